import { step } from './remediation/step';

export const shared = step;
