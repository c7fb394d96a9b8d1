/**
 * Detection and remediation in one process, round after round: what `phoenix reconcile` and
 * `npm run demo` run.
 *
 * Nothing is re-implemented. Each round is the evaluator's own periodic sweep
 * (`handleEvent` on a Config `ScheduledNotification`, in `evaluate-drift/core.ts`): it
 * judges every instance of every fleet, records compliance, notifies, and "starts" a
 * remediation for each drifted instance it may replace. Here Step Functions'
 * `StartExecution` is {@link LocalStepFunctions}: it keeps the pinned execution input, and
 * the round then runs the real state machine definition through the local runner
 * (`step-functions/runner.ts`) against whatever endpoint the SDK is configured for.
 *
 * Why it always ends:
 * - execution names are the evaluator's (`<instance>-<fingerprint>-<attempt>`) and each name
 *   runs at most once, as Step Functions refuses a name twice. A drift whose execution ended
 *   for good (replaced, rolled back, source drift…) is not started again; one that ended for
 *   a reason that can pass (blocked by the budget, failed before changing anything) moved to
 *   its next attempt and may be started by a later round, as the deployed evaluator would on
 *   its next detection. A round that starts nothing new ends the run;
 * - rounds are bounded (`maxRounds`, default {@link DEFAULT_MAX_ROUNDS}).
 *
 * Budgets and windows are the state machine's: every execution takes a budget lease in the
 * state table before it touches anything (one that finds its fleet busy waits in the fleet's
 * queue), and waits for its fleet's window at recheck. On top of that, the reconciler runs at
 * most `maxConcurrent` executions at a time of a fleet whose rollout counts its admissions, so
 * that with instant waits (the emulated account) its own executions do not race the rollout's
 * counters; any other fleet's wait in its queue, served in the queue's order. With instant waits a closed window is not waited for (it could
 * be hours): those instances are reported as waiting for the window.
 */

import { gateClient, gateClients } from '../aws/call-gate';
// One line a person can act on, whatever broke (the command prints these errors as they are).
import { describeAwsError as describeError } from '../aws/describe-error';
import { Notifier } from '../aws/notifier';
import { RolloutStore } from '../aws/rollout-store';
import { StateStore } from '../aws/state-store';
import { concurrencyLimit } from '../domain/budget';
import type { CompiledDesiredState, CompiledFleet } from '../domain/model';
import { governsRollout } from '../domain/rollout/membership';
import {
  type DetectionDeps,
  type DetectionLogger,
  type DetectionSummary,
  handleEvent,
} from '../evaluate-drift/core';
import { canaryCaps } from './canary-cap';
import { ComplianceRecorder, type RecordedEvaluation } from './config-recorder';
import { type SweepFindings, settleSweep } from './evaluator-findings';
import { ExecutionRunner } from './execution';
import type { LocalRunHooks } from './hooks';
import { RecordingNotifier, type SentNotification } from './notifier';
import type { ReconcileProgress } from './progress';
import {
  buildReport,
  type HeldInstance,
  type LeftDrifted,
  type ReconcileReport,
  type RemediationRecord,
  type RoundRecord,
} from './report';
import { waitForBakes } from './rollout-bakes';
import { LOCAL_ACCOUNT, localStateMachineArn } from './step-functions/arns';
import { LocalStepFunctions, type StartedExecution } from './step-functions/start-execution';
import type { LocalClients } from './step-functions/tasks';

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_MAX_ROUNDS = 5;

const RULE_NAME = 'phoenix-reconcile';
const RESULT_TOKEN = 'phoenix-reconcile-local';

/**
 * The evaluator's operator log has no reader in a local run: the report is built from the
 * decisions its summary returns, and progress is told by the reconciler.
 */
const QUIET: DetectionLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export interface ReconcilerOptions {
  desiredState: CompiledDesiredState;
  /** The clients reconcile works with (the local runner's): each only needs `send`. */
  clients: LocalClients;
  /** The state table (leases, quarantines, pause switch, notification de-duplication). */
  tableName: string;
  /** Publish notifications here; without it they are only collected for the report. */
  topicArn?: string;
  /** Region of local ARNs and console links (default us-east-1). */
  region?: string;
  /** `zero`: every Wait and retry pause is instant (the emulated account). Default `real`. */
  waits?: 'zero' | 'real';
  /** Executions running at once, all fleets together (default {@link DEFAULT_CONCURRENCY}). */
  concurrency?: number;
  /** Sweeps at most (default {@link DEFAULT_MAX_ROUNDS}). */
  maxRounds?: number;
  onProgress?: (event: ReconcileProgress) => void;
  /** The desired-state file, for the report. */
  file?: string;
  /** The endpoint, for the report. */
  endpoint?: string;
  /** Test-only levers, handed on to every execution ({@link LocalRunHooks}); production passes none. */
  hooks?: LocalRunHooks;
}

function sortById<T extends { instanceId: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

/**
 * Detection and remediation in one process: events and sweeps go through the evaluator
 * core; the executions it starts run through the local runner. The CLI calls
 * {@link Reconciler.reconcile}; the demo and the end-to-end tests also feed it events with
 * {@link Reconciler.handle} first.
 */
export class Reconciler {
  readonly #options: ReconcilerOptions;
  readonly #clock: () => Date;
  readonly #region: string;
  readonly #sfn: LocalStepFunctions;
  readonly #compliance = new ComplianceRecorder();
  readonly #notifier: RecordingNotifier;
  readonly #deps: DetectionDeps;
  readonly #executions: ExecutionRunner;
  readonly #remediations: RemediationRecord[] = [];
  readonly #held: HeldInstance[] = [];
  readonly #rounds: RoundRecord[] = [];
  readonly #errors: string[] = [];
  #round = 0;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    this.#clock = options.hooks?.clock ?? (() => new Date());
    this.#region = options.region ?? 'us-east-1';
    const stateMachineArn = localStateMachineArn(this.#region);
    this.#sfn = new LocalStepFunctions(stateMachineArn);
    const gate = options.hooks?.gate;
    const evaluator = gateClients(options.clients, 'evaluator', gate);
    const stepsSns = gateClient(options.clients.sns, 'sns', 'remediation-steps', gate);
    const topicArn = options.topicArn;
    this.#notifier = new RecordingNotifier(
      topicArn === undefined ? undefined : new Notifier(evaluator.sns, topicArn),
    );
    this.#deps = {
      ec2: evaluator.ec2,
      autoScaling: evaluator.autoScaling,
      config: gateClient(this.#compliance.client, 'config', 'evaluator', gate),
      sfn: gateClient(this.#sfn.client, 'sfn', 'evaluator', gate),
      store: new StateStore(evaluator.dynamodb, options.tableName, this.#clock),
      notifier: this.#notifier,
      desiredState: options.desiredState,
      stateMachineArn,
      consoleRegion: this.#region,
      clock: this.#clock,
      logger: QUIET,
      metrics: { addMetric: () => {} },
      ...(evaluator.cloudwatch === undefined
        ? {}
        : {
            rolloutReaders: {
              cloudwatch: evaluator.cloudwatch,
              rollouts: new RolloutStore(evaluator.dynamodb, options.tableName, this.#clock),
            },
          }),
    };
    this.#executions = new ExecutionRunner({
      desiredState: options.desiredState,
      clients: options.clients,
      tableName: options.tableName,
      topicArn,
      region: this.#region,
      waits: options.waits ?? 'real',
      clock: this.#clock,
      // The steps function's notifications: in AWS, published by its own role.
      notifier: new RecordingNotifier(
        topicArn === undefined ? undefined : new Notifier(stepsSns, topicArn),
        this.#notifier.sent,
      ),
      hooks: options.hooks,
      progress: (event) => this.#progress(event),
      ended: (record) => {
        this.#remediations.push(record);
        this.#progress({ type: 'execution-end', record });
      },
      held: (held) => this.#hold(held),
      failed: (message) => this.#errors.push(message),
    });
  }

  /** Every execution the evaluator started, in order. */
  get started(): readonly StartedExecution[] {
    return this.#sfn.started;
  }

  /** Every evaluation the evaluator recorded (Config-origin events and sweeps). */
  get evaluations(): readonly RecordedEvaluation[] {
    return this.#compliance.evaluations;
  }

  /** Every notification sent so far, by detection and by the executions. */
  get notifications(): readonly SentNotification[] {
    return this.#notifier.sent;
  }

  /** Every execution run so far, in the order they ended. */
  get remediations(): readonly RemediationRecord[] {
    return this.#remediations;
  }

  /**
   * Hands one event (CloudTrail via EventBridge, EC2 state change, Config rule invocation) to
   * the evaluator core. Executions it starts wait for {@link runPending} or {@link reconcile}.
   */
  async handle(rawEvent: unknown): Promise<DetectionSummary> {
    return handleEvent(this.#deps, rawEvent);
  }

  /** The periodic sweep, exactly as Config's ScheduledNotification invokes the evaluator. */
  async sweep(): Promise<DetectionSummary> {
    const now = this.#clock();
    return this.handle({
      version: '1.0',
      invokingEvent: JSON.stringify({
        messageType: 'ScheduledNotification',
        notificationCreationTime: now.toISOString(),
        awsAccountId: LOCAL_ACCOUNT,
      }),
      resultToken: RESULT_TOKEN,
      eventLeftScope: false,
      configRuleName: RULE_NAME,
      accountId: LOCAL_ACCOUNT,
    });
  }

  /**
   * Runs every execution started since the last call, at most `concurrency` at once and, for
   * a fleet whose rollout counts its admissions, at most the fleet's `maxConcurrent` of it;
   * resolves when all have ended.
   */
  async runPending(round = this.#round): Promise<RemediationRecord[]> {
    const queue = this.#sfn.takePending();
    const deferred = await this.#deferBeyondCanary(queue);
    const limit = Math.max(1, this.#options.concurrency ?? DEFAULT_CONCURRENCY);
    const inFlight = new Map<string, number>();
    const records: RemediationRecord[] = [];
    let running = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        if (queue.length === 0 && running === 0) {
          resolve();
          return;
        }
        for (let i = 0; i < queue.length && running < limit; ) {
          const next = queue[i];
          if (next === undefined) break;
          const fleet = this.#fleet(next.input.fleet);
          // A share of the fleet is taken of the drifted instances at least: never more than
          // the lease would grant (it is the budget's judge). Only for a fleet whose rollout
          // counts its admissions (with instant waits they would race its counters); any other
          // fleet's executions wait in its queue, served in the queue's order, as deployed.
          const fleetLimit =
            fleet === undefined
              ? 1
              : !governsRollout(fleet.rollout)
                ? Number.POSITIVE_INFINITY
                : concurrencyLimit(
                    fleet.budget.maxConcurrent,
                    queue.filter((q) => q.input.fleet === next.input.fleet).length +
                      (inFlight.get(next.input.fleet) ?? 0),
                  );
          const busy = inFlight.get(next.input.fleet) ?? 0;
          if (busy >= fleetLimit) {
            i += 1;
            continue;
          }
          queue.splice(i, 1);
          running += 1;
          inFlight.set(next.input.fleet, busy + 1);
          this.#executions
            .run(next, round)
            .then((record) => {
              if (record !== undefined) records.push(record);
            })
            .catch((error: unknown) => {
              this.#errors.push(`execution ${next.name}: ${describeError(error)}`);
            })
            .finally(() => {
              running -= 1;
              inFlight.set(next.input.fleet, (inFlight.get(next.input.fleet) ?? 1) - 1);
              pump();
            });
        }
      };
      pump();
    });
    if (deferred.length > 0) this.#sfn.putBack(deferred);
    return records;
  }

  /** Takes out of `queue` the members beyond their rollout's canary (canary-cap.ts) and returns them. */
  async #deferBeyondCanary(queue: StartedExecution[]): Promise<StartedExecution[]> {
    const readers = this.#deps.rolloutReaders;
    if (readers === undefined || queue.length === 0) return [];
    const caps = await canaryCaps(readers.rollouts, this.#options.desiredState.fleets, queue);
    const deferred: StartedExecution[] = [];
    for (const [fleet, cap] of caps) {
      let kept = 0;
      for (let i = 0; i < queue.length; ) {
        const execution = queue[i];
        if (execution?.input.fleet !== fleet) i += 1;
        else if (kept < cap) {
          kept += 1;
          i += 1;
        } else deferred.push(...queue.splice(i, 1));
      }
      const waiting = deferred.filter((e) => e.input.fleet === fleet).length;
      if (waiting > 0)
        this.#progress({
          type: 'rollout',
          line: `fleet ${fleet}: the canary first (${kept} now); ${waiting} more wait for it and its bake`,
        });
    }
    return deferred;
  }

  /**
   * Runs what earlier events started, then sweeps and remediates round after round until a
   * sweep starts nothing new (or the round limit), and reports.
   */
  async reconcile(): Promise<ReconcileReport> {
    const startedAt = this.#clock();
    const wallStart = Date.now();
    const maxRounds = Math.max(1, this.#options.maxRounds ?? DEFAULT_MAX_ROUNDS);
    let stoppedBecause: ReconcileReport['stoppedBecause'] = 'round-limit';
    let lastSweep: SweepFindings | undefined;

    if (this.#sfn.started.length > 0) {
      this.#progress({ type: 'round', round: 0, pending: this.#sfn.started.length });
      await this.runPending(0);
    }
    // Round maxRounds + 1 only sweeps: it says whether the last round left work behind.
    for (let round = 1; round <= maxRounds + 1; round += 1) {
      this.#round = round;
      // A canary baking: wait for its bake (alarms polled) rather than start executions that
      // would only wait at their lease.
      await this.#waitForBakes();
      this.#progress({ type: 'round', round, pending: 0 });
      const startedBefore = this.#sfn.started.length;
      const { summary, findings } = await this.#sweepCounted(round);
      lastSweep = findings;
      const record = roundRecord(round, summary, lastSweep);
      this.#rounds.push(record);
      this.#progress({ type: 'sweep', round, record });
      this.#noteHeld(round, lastSweep);
      if (this.#sfn.started.length === startedBefore && !this.#sfn.hasPending) {
        stoppedBecause = 'nothing-new';
        break;
      }
      if (round > maxRounds) break;
      await this.runPending(round);
    }

    const leftDrifted = lastSweep === undefined ? [] : this.#leftDrifted(lastSweep, stoppedBecause);
    const finishedAt = this.#clock();
    return buildReport({
      startedAt,
      finishedAt,
      durationMs: Date.now() - wallStart,
      desiredState: this.#options.desiredState,
      file: this.#options.file,
      target: {
        region: this.#region,
        endpoint: this.#options.endpoint ?? null,
        table: this.#options.tableName,
        topicArn: this.#options.topicArn ?? null,
        waits: this.#options.waits ?? 'real',
      },
      stoppedBecause,
      rounds: this.#rounds,
      remediations: this.#remediations,
      held: this.#held,
      leftDrifted,
      notifications: this.#notifier.sent,
      errors: this.#errors,
    });
  }

  // ---- internals ----------------------------------------------------------------------

  async #waitForBakes(): Promise<void> {
    const readers = this.#deps.rolloutReaders;
    if (readers === undefined) return;
    const waitForBake = this.#options.hooks?.waitForBake;
    await waitForBakes({
      ec2: this.#deps.ec2,
      cloudwatch: readers.cloudwatch,
      rollouts: readers.rollouts,
      fleets: this.#options.desiredState.fleets,
      clock: this.#clock,
      ...(waitForBake === undefined ? {} : { waitForBake }),
      say: (line) => this.#progress({ type: 'rollout', line }),
    });
  }

  #fleet(name: string): CompiledFleet | undefined {
    return this.#options.desiredState.fleets.find((f) => f.name === name);
  }

  #progress(event: ReconcileProgress): void {
    this.#options.onProgress?.(event);
  }

  #hold(held: HeldInstance): void {
    this.#held.push(held);
    this.#progress({ type: 'held', held });
  }

  async #sweepCounted(round: number): Promise<{ summary?: DetectionSummary; findings: SweepFindings }> {
    const settled = await settleSweep(() => this.sweep());
    // Partial failures (one fleet unreadable…): what was started still runs, what was decided
    // is still reported (the error carries the sweep's summary); the run fails.
    if (settled.threw !== undefined)
      this.#errors.push(`sweep of round ${round}: ${describeError(settled.threw.error)}`);
    return settled;
  }

  /** The drifted instances this sweep did not replace, kept as held instances. */
  #noteHeld(round: number, sweep: SweepFindings): void {
    for (const held of sweep.held) {
      if (this.#held.some((h) => h.instanceId === held.instanceId && h.round === round)) continue;
      this.#hold({
        instanceId: held.instanceId,
        fleet: held.fleet,
        round,
        why: held.why,
        reasons: held.reasons,
      });
    }
  }

  #leftDrifted(sweep: SweepFindings, stoppedBecause: ReconcileReport['stoppedBecause']): LeftDrifted[] {
    return sortById(
      sweep.drifted.map(({ instanceId, fleet, reasons }) => ({
        instanceId,
        fleet,
        reasons,
        why: this.#whyStillDrifted(instanceId, fleet, sweep, stoppedBecause),
      })),
    );
  }

  #whyStillDrifted(
    instanceId: string,
    fleetName: string,
    sweep: SweepFindings,
    stoppedBecause: ReconcileReport['stoppedBecause'],
  ): string {
    const held = sweep.held.find((h) => h.instanceId === instanceId);
    if (held !== undefined) return held.why;
    const state = sweep.notRunning.get(instanceId);
    if (state !== undefined) return `instance is ${state}: only running instances are replaced`;
    const fleet = this.#fleet(fleetName);
    if (fleet !== undefined && fleet.mode !== 'enforce') {
      return `fleet ${fleetName} is in ${fleet.mode} mode: Phoenix reports drift but does not replace`;
    }
    const last = [...this.#remediations].reverse().find((r) => r.instanceId === instanceId);
    const window = this.#held.findLast((h) => h.instanceId === instanceId);
    if (window !== undefined && (last === undefined || window.round >= last.round)) return window.why;
    if (last !== undefined) return `${last.outcome}: ${last.detail}`;
    if (stoppedBecause === 'round-limit')
      return 'its remediation was started but the round limit was reached';
    return 'not replaced';
  }
}

/** What one round's sweep found and did. */
function roundRecord(
  round: number,
  summary: DetectionSummary | undefined,
  sweep: SweepFindings,
): RoundRecord {
  return {
    round,
    judged: summary?.judged ?? 0,
    inSync: summary?.compliant ?? 0,
    drifted: summary?.nonCompliant ?? 0,
    notApplicable: summary?.notApplicable ?? 0,
    started: sweep.started,
    alreadyStarted: summary?.remediationsAlreadyStarted ?? 0,
    held: summary?.remediationsHeld ?? 0,
  };
}
