/**
 * Step Functions' `StartExecution`, locally: what the evaluator calls to start a remediation
 * when it runs in `phoenix reconcile` or the demo. The executions it starts are run by the
 * reconciler through the runner (`runner.ts`).
 */

import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../../domain/errors';
import { type RemediationInput, RemediationInputSchema } from '../../remediation/input';
import { ExecutionAlreadyExistsError } from '../errors';
import { localExecutionArn } from './arns';

/** One remediation the evaluator asked to start. */
export interface StartedExecution {
  /** `<instance>-<fingerprint>-<attempt>`, as the evaluator names it. */
  name: string;
  executionArn: string;
  input: RemediationInput;
}

/**
 * `StartExecution`, locally: keeps each execution's pinned input for the runner and, like
 * Step Functions, refuses a name it has seen (`ExecutionAlreadyExists`), so the same attempt
 * of a drift is remediated once however many events or sweeps report it. It remembers only
 * the names it started itself: another process (a second reconcile, the deployed stack) may
 * start the same name, so each execution gets an ARN of its own ({@link localExecutionArn}),
 * and the state table, not the name, keeps two of them from replacing one instance twice.
 */
export class LocalStepFunctions {
  readonly #stateMachineArn: string;
  readonly #names = new Set<string>();
  readonly #pending: StartedExecution[] = [];
  readonly #all: StartedExecution[] = [];

  constructor(stateMachineArn: string) {
    this.#stateMachineArn = stateMachineArn;
  }

  /** The client the evaluator is given. */
  get client(): Pick<SFNClient, 'send'> {
    const send = (command: unknown) => this.#send(command);
    return { send } as unknown as Pick<SFNClient, 'send'>;
  }

  /** Every execution started so far, in order. */
  get started(): readonly StartedExecution[] {
    return this.#all;
  }

  /** Takes the executions started since the last call. */
  takePending(): StartedExecution[] {
    return this.#pending.splice(0);
  }

  /** Gives executions taken but not run back, ahead of any started since: the next round runs them. */
  putBack(executions: readonly StartedExecution[]): void {
    this.#pending.unshift(...executions);
  }

  /** Whether executions started (or put back) wait to be run. */
  get hasPending(): boolean {
    return this.#pending.length > 0;
  }

  async #send(command: unknown): Promise<{ executionArn: string; startDate: Date }> {
    if (!(command instanceof StartExecutionCommand)) {
      throw new InvalidInputError(
        `local Step Functions only starts executions, not ${(command as object).constructor.name}`,
      );
    }
    const name = command.input.name ?? '';
    if (name === '') throw new InvalidInputError('StartExecution without a name');
    if (this.#names.has(name)) {
      throw new ExecutionAlreadyExistsError(`Execution Already Exists: '${name}'`);
    }
    const parsed = RemediationInputSchema.safeParse(JSON.parse(command.input.input ?? '{}'));
    if (!parsed.success) {
      throw new InvalidInputError(`execution ${name}: input refused: ${parsed.error.message}`);
    }
    this.#names.add(name);
    const executionArn = localExecutionArn(name, this.#stateMachineArn.split(':')[3] || undefined);
    const started = { name, executionArn, input: parsed.data };
    this.#pending.push(started);
    this.#all.push(started);
    return { executionArn, startDate: new Date() };
  }
}
