/** The evaluator's errors; `core.ts` re-exports them. */
import { InvalidInputError, PhoenixError } from '../domain/errors';
import type { DetectionSummary } from './deps';

/** An event that cannot be understood. Thrown for EventBridge events so they reach the DLQ. */
export class MalformedEventError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MalformedEventError';
  }
}

/**
 * Some instances could not be judged or acted on; the rest were. Thrown so Lambda retries;
 * `summary` says what was done (its decisions name the instances that failed), for a caller
 * that runs the evaluator in-process and reports rather than retries.
 */
export class DetectionIncompleteError extends PhoenixError {
  readonly summary: DetectionSummary | undefined;

  constructor(message: string, options?: ErrorOptions & { summary?: DetectionSummary }) {
    super(message, options);
    this.name = 'DetectionIncompleteError';
    this.summary = options?.summary;
  }
}

/** The function's configuration is missing or wrong. */
export class EnvironmentError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EnvironmentError';
  }
}

/** Some evaluations were still refused after every retry: the caller's invocation must fail. */
export class EvaluationsNotRecordedError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EvaluationsNotRecordedError';
  }
}
