/** The errors of the local account (runner, executions, table), in Phoenix's one hierarchy. */
import { PhoenixError } from '../domain/errors';

/** A problem with the definition or the run's configuration, not with the remediation. */
export class LocalRunnerError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalRunnerError';
  }
}

/** Step Functions' answer to a name already used; the evaluator recognises it by this name. */
export class ExecutionAlreadyExistsError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    // Step Functions' own error name: what `startRemediation` treats as "already started".
    this.name = 'ExecutionAlreadyExists';
  }
}

/** The state table named with `--table` does not exist on the configured endpoint. */
export class StateTableMissingError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StateTableMissingError';
  }
}
