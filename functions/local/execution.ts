/**
 * One execution the evaluator started, run locally to its end through the real definition
 * (`step-functions/runner.ts`) and recorded as the report shows it: how it ended, why, what it
 * replaced, how many states and calls it took.
 */
import type { NotificationPublisher } from '../aws/notifier';
import type { CompiledDesiredState, CompiledFleet, DriftReason } from '../domain/model';
import { isWindowOpen, nextWindowOpening } from '../domain/window';
import type { RemediationInput } from '../remediation/input';
import { LocalRunnerError } from './errors';
import type { LocalRunHooks } from './hooks';
import type { ReconcileProgress } from './progress';
import type { HeldInstance, RemediationOutcome, RemediationRecord } from './report';
import { LOCAL_ACCOUNT } from './step-functions/arns';
import { VISIBLE_STATES } from './step-functions/definition';
import type { RunEvent } from './step-functions/run-events';
import { type RunResult, runRemediation } from './step-functions/runner';
import type { StartedExecution } from './step-functions/start-execution';
import type { LocalClients } from './step-functions/tasks';

/** Where executions run and where what they did goes. */
export interface ExecutionContext {
  desiredState: CompiledDesiredState;
  clients: LocalClients;
  tableName: string;
  topicArn: string | undefined;
  region: string;
  waits: 'zero' | 'real';
  clock: () => Date;
  /** The steps function's notifications: in AWS, published by its own role. */
  notifier: NotificationPublisher;
  hooks: LocalRunHooks | undefined;
  progress: (event: ReconcileProgress) => void;
  /** An execution ended (in the order they end). */
  ended: (record: RemediationRecord) => void;
  /** An execution was not run (its window is closed and nothing moves the clock). */
  held: (held: HeldInstance) => void;
  /** The local run itself broke. */
  failed: (message: string) => void;
}

const END_STATES: Readonly<Record<string, RemediationOutcome>> = {
  RolledBack: 'rolled-back',
  RolledBackUnreported: 'rolled-back',
  Failed: 'failed',
  FailedUnreported: 'failed',
};

type Outcome = Pick<RemediationRecord, 'outcome' | 'reason' | 'detail' | 'error' | 'cause'> & {
  replacementId?: string | null;
};

/** Runs the executions the evaluator started, one call each. */
export class ExecutionRunner {
  readonly #context: ExecutionContext;

  constructor(context: ExecutionContext) {
    this.#context = context;
  }

  /**
   * Runs one execution to its end and records it (`undefined`: not run, held for its window).
   * Throws only what is neither a remediation's end nor a broken local run.
   */
  async run(started: StartedExecution, round: number): Promise<RemediationRecord | undefined> {
    const ctx = this.#context;
    const { input, name } = started;
    const fleet = this.#fleet(input.fleet);
    const zero = ctx.waits === 'zero';
    const waitForWindow = ctx.hooks?.waitForWindow;
    if (zero && waitForWindow === undefined && fleet?.window !== undefined) {
      const now = ctx.clock();
      if (!isWindowOpen(fleet.window, now)) {
        const opensAt = nextWindowOpening(fleet.window, now).toISOString();
        ctx.held({
          instanceId: input.instanceId,
          fleet: input.fleet,
          round,
          why: `waiting for the maintenance window of fleet ${input.fleet} (${fleet.window.timezone}), which opens at ${opensAt}: run reconcile again then, or pass --real-waits to wait for it`,
          reasons: driftReasons(input.reasons),
        });
        return undefined;
      }
    }

    const timed: RemediationInput = {
      ...input,
      timings: { ...(input.timings ?? {}), ...(ctx.hooks?.timings ?? {}) },
    };
    ctx.progress({
      type: 'execution-start',
      instanceId: input.instanceId,
      fleet: input.fleet,
      execution: name,
      reasons: driftReasons(input.reasons),
    });
    let result: RunResult;
    try {
      result = await runRemediation(timed, {
        clients: ctx.clients,
        deps: {
          desiredState: ctx.desiredState,
          tableName: ctx.tableName,
          // Unused by the definition itself: notifications go through the notifier below.
          topicArn: ctx.topicArn ?? `arn:aws:sns:${ctx.region}:${LOCAL_ACCOUNT}:phoenix-unpublished`,
          notifier: ctx.notifier,
          region: ctx.region,
        },
        waits: ctx.waits,
        executionName: name,
        executionArn: started.executionArn,
        onEvent: (event) => this.#onRunEvent(event, input.fleet),
        ...(zero
          ? {
              // The window closed between the check above and the recheck: the Wait state is
              // instant here, so wait for real (or for the test's clock) rather than spin.
              untilWindowOpens: waitForWindow ?? ((opensAt: Date) => sleepUntil(opensAt, ctx.clock)),
            }
          : {}),
        ...(ctx.hooks === undefined ? {} : { hooks: ctx.hooks }),
      });
    } catch (error) {
      if (!(error instanceof LocalRunnerError)) throw error;
      const record = this.#record(started, round, {
        outcome: 'error',
        reason: 'local-run-broke',
        detail: error.message,
        error: error.name,
        cause: error.message,
      });
      ctx.failed(`execution ${name}: ${error.message}`);
      return record;
    }
    return this.#record(started, round, outcomeOf(result), result);
  }

  #fleet(name: string): CompiledFleet | undefined {
    return this.#context.desiredState.fleets.find((f) => f.name === name);
  }

  #onRunEvent(event: RunEvent, fleet: string): void {
    const { state, instanceId, elapsedMs } = event;
    if (state === undefined) return;
    if (event.type === 'StateEntered' && VISIBLE_STATES.has(state)) {
      this.#context.progress({ type: 'state', instanceId, fleet, state, elapsedMs });
    } else if (event.type === 'StateRetried') {
      this.#context.progress({
        type: 'state',
        instanceId,
        fleet,
        state,
        elapsedMs,
        retry: event.error ?? 'error',
      });
    }
  }

  #record(started: StartedExecution, round: number, outcome: Outcome, result?: RunResult): RemediationRecord {
    const { input } = started;
    const record: RemediationRecord = {
      instanceId: input.instanceId,
      fleet: input.fleet,
      team: this.#fleet(input.fleet)?.team ?? 'default',
      execution: started.name,
      executionArn: result?.executionArn ?? started.executionArn,
      round,
      outcome: outcome.outcome,
      reason: outcome.reason,
      detail: outcome.detail,
      replacementId: outcome.replacementId ?? null,
      error: outcome.error,
      cause: outcome.cause,
      reasons: driftReasons(input.reasons),
      trigger: input.trigger,
      principal: input.principal ?? null,
      launchTemplate: input.launchTemplate,
      transitions: result?.transitions ?? 0,
      apiCalls: Object.values(result?.apiCalls ?? {}).reduce((sum, n) => sum + n, 0),
      durationMs: result?.durationMs ?? 0,
    };
    this.#context.ended(record);
    return record;
  }
}

async function sleepUntil(at: Date, clock: () => Date): Promise<void> {
  const ms = at.getTime() - clock().getTime();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a run ended, from its output (Succeed) or its final state (Fail). */
function outcomeOf(result: RunResult): Outcome & { replacementId: string | null } {
  if (result.status === 'SUCCEEDED') {
    const output = (result.output ?? {}) as {
      outcome?: string;
      reason?: string;
      detail?: string;
      replacementId?: string;
    };
    const known: RemediationOutcome[] = ['succeeded', 'skipped', 'blocked', 'manual-action-required'];
    const outcome = known.find((o) => o === output.outcome) ?? 'failed';
    return {
      outcome,
      reason: output.reason ?? 'unknown',
      detail: output.detail ?? '',
      replacementId: output.replacementId ?? null,
      error: null,
      cause: null,
    };
  }
  const last = [...result.events].reverse().find((e) => e.type === 'StateEntered' && e.state !== undefined);
  const outcome = (last?.state !== undefined ? END_STATES[last.state] : undefined) ?? 'failed';
  const cause = result.cause ?? '';
  return {
    outcome,
    reason: outcome === 'rolled-back' ? 'rolled-back' : 'failed',
    detail: cause,
    replacementId: /replacement (i-[0-9a-f]+)/.exec(cause)?.[1] ?? null,
    error: result.error ?? null,
    cause: result.cause ?? null,
  };
}

/** The input's reasons: validated as strings by the input schema, written by the drift engine. */
export function driftReasons(reasons: RemediationInput['reasons']): DriftReason[] {
  return reasons as DriftReason[];
}
