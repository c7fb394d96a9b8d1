/** The Lambda runtime's errors, in Phoenix's one hierarchy. */
import { PhoenixError } from '../domain/errors';

/** The code runs without a bundled desired state: a build or wiring mistake, never retried. */
export class DesiredStateNotBundledError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DesiredStateNotBundledError';
  }
}
