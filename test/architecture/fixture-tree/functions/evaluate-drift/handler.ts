// Reaches the remediation through functions/shared.ts, not directly.
import { shared } from '../shared';

export const handler = shared;
