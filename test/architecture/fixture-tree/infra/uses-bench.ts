import { tool } from '../bench/tool';

export const usesBench = tool;
