/**
 * Every error Phoenix throws on purpose is a named subclass of {@link PhoenixError}.
 *
 * The `name` is part of the contract: the state machine's `Retry` and `Catch` clauses
 * match on it, so a test keeps the ASL's `ErrorEquals` and these classes in step.
 */
export class PhoenixError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PhoenixError';
  }
}

/** An input (event, file, flag) that cannot be understood. Never retried. */
export class InvalidInputError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidInputError';
  }
}
