/**
 * The error a caller gets for a desired-state file that does not validate.
 */
import { PhoenixError } from '../errors';
import { formatIssue, type ValidationIssue } from './validate';

/** A desired-state file with problems. The message lists them all, one `file:line:col message` per line. */
export class DesiredStateInvalidError extends PhoenixError {
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(issues.map(formatIssue).join('\n'), options);
    this.name = 'DesiredStateInvalidError';
    this.issues = issues;
  }
}
