/** The demo's errors, in Phoenix's one hierarchy. */
import { PhoenixError } from '../domain/errors';

/** The demo did something other than what it shows (a regression, not a user error). */
export class DemoFailedError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DemoFailedError';
  }
}
