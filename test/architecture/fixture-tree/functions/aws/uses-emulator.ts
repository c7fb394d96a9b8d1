import { emulatorTool } from '../../emulator/tool';

export const usesEmulator = emulatorTool;
