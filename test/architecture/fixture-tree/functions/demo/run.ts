// Allowed: the demo starts an emulated account.
import { emulatorTool } from '../../emulator/tool';

export const demo = emulatorTool;
