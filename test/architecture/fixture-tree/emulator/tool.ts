import { helper } from '../test/helper';

export const emulatorTool = helper;
