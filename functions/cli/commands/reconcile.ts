/**
 * `phoenix reconcile --desired-state FILE`: detection and remediation, run here, until every
 * drifted instance of the declared fleets is converged or reported.
 *
 * Nothing is re-implemented. Each round is the evaluator's own periodic sweep
 * (`handleEvent` on a Config `ScheduledNotification`, in `evaluate-drift/core.ts`): it
 * judges every instance of every fleet, records compliance, notifies, and "starts" a
 * remediation for each drifted instance it may replace. Here Step Functions'
 * `StartExecution` is {@link LocalStepFunctions}: it keeps the pinned execution input, and
 * the round then runs the real state machine definition through the local runner
 * (`remediation/local-runner.ts`) against whatever endpoint the SDK is configured for.
 *
 * Why it always ends:
 * - execution names are the evaluator's (`<instance>-<fingerprint>-<attempt>`) and each name
 *   runs at most once, as Step Functions refuses a name twice. A drift whose execution ended
 *   for good (replaced, rolled back, source drift…) is not started again; one that ended for
 *   a reason that can pass (blocked by the budget, failed before changing anything) moved to
 *   its next attempt and may be started by a later round, as the deployed evaluator would on
 *   its next detection. A round that starts nothing new ends the run;
 * - rounds are bounded (`--max-rounds`, default 5).
 *
 * Budgets and windows are the state machine's: every execution takes a budget lease in the
 * state table before it touches anything, and waits for its fleet's window at recheck. On
 * top of that, reconcile runs at most `maxConcurrent` executions of one fleet at a time, so
 * that with instant waits (the emulated account) no execution burns its lease retries
 * against its own siblings. With instant waits a closed window is not waited for (it could
 * be hours): those instances are reported as waiting for the window.
 *
 * The JSON report is documented in docs/cli/reconcile.md and versioned (`schemaVersion`).
 */
import type { ConfigServiceClient, Evaluation } from '@aws-sdk/client-config-service';
import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import definitionJson from '../../../state-machines/remediate-instance.asl.json' with { type: 'json' };
import { type CallGate, gateClient, gateClients } from '../../aws/call-gate';
import { makeClients } from '../../aws/clients';
import { type NotificationPublisher, Notifier } from '../../aws/notifier';
import { StateStore } from '../../aws/state-store';
import { InvalidInputError, PhoenixError } from '../../domain/errors';
import type { CompiledDesiredState, CompiledFleet, DriftReason } from '../../domain/model';
import {
  type NotificationEvent,
  notificationSubject,
  type PhoenixNotification,
} from '../../domain/notification';
import { isWindowOpen, nextWindowOpening } from '../../domain/window';
import {
  type DetectionDeps,
  type DetectionLogger,
  type DetectionSummary,
  handleEvent,
} from '../../evaluate-drift/core';
import { describeReasons } from '../../evaluate-drift/evaluations';
import {
  type AfterStateEvent,
  type Faults,
  type LocalClients,
  LocalRunnerError,
  localExecutionArn,
  type RunEvent,
  type RunResult,
  runRemediation,
} from '../../local/step-functions/runner';
import { type RemediationInput, RemediationInputSchema, type Timings } from '../../remediation/input';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  loadDesiredStateFor,
  outputFormatFrom,
  parseCommandLine,
  requiredDesiredStateFile,
  STATE_TABLE_OPTION,
  stateTableFrom,
  topicArnFrom,
} from '../command-line';
import type { CliIo } from '../io';

/** Version of the JSON report; bumped only on a breaking change. */
export const RECONCILE_SCHEMA_VERSION = 1;

export const EXIT_CONVERGED = 0;
export const EXIT_ERROR = 1;
export const EXIT_NOT_CONVERGED = 2;

/** The state table reconcile creates (when missing) if no table is named. */
export const DEFAULT_TABLE_NAME = 'phoenix-state';
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_MAX_ROUNDS = 5;

/** The account id of local ARNs (the local runner's). */
const LOCAL_ACCOUNT = '123456789012';
const STATE_MACHINE_NAME = 'phoenix-remediate-instance';
const RULE_NAME = 'phoenix-reconcile';
const RESULT_TOKEN = 'phoenix-reconcile-local';

// ---- errors -------------------------------------------------------------------------------

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

// ---- local stand-ins for Step Functions and Config ----------------------------------------

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

/** One evaluation the evaluator wrote, and the result token it came with. */
export interface RecordedEvaluation {
  resultToken: string;
  resourceId: string;
  compliance: string;
  annotation: string | null;
  orderingTimestamp: string;
}

/**
 * AWS Config's `PutEvaluations`, locally: keeps the evaluations (reconcile has no rule and
 * no result token a real account would accept). Anything else is refused.
 */
export class ComplianceRecorder {
  readonly evaluations: RecordedEvaluation[] = [];

  get client(): Pick<ConfigServiceClient, 'send'> {
    const send = async (command: unknown) => {
      if (!(command instanceof PutEvaluationsCommand)) {
        throw new InvalidInputError(
          `local Config only records evaluations, not ${(command as object).constructor.name}`,
        );
      }
      for (const evaluation of command.input.Evaluations ?? []) this.#keep(command, evaluation);
      return { FailedEvaluations: [] };
    };
    return { send } as unknown as Pick<ConfigServiceClient, 'send'>;
  }

  #keep(command: PutEvaluationsCommand, evaluation: Evaluation): void {
    const at = evaluation.OrderingTimestamp;
    this.evaluations.push({
      resultToken: command.input.ResultToken ?? '',
      resourceId: evaluation.ComplianceResourceId ?? '',
      compliance: evaluation.ComplianceType ?? '',
      annotation: evaluation.Annotation ?? null,
      orderingTimestamp: at instanceof Date ? at.toISOString() : String(at ?? ''),
    });
  }
}

/** A notification Phoenix sent (or, without a topic, would have sent). */
export interface SentNotification {
  event: NotificationEvent;
  team: string;
  fleet: string;
  instanceId: string;
  severity: string;
  subject: string;
  /** False when there was no topic to publish to. */
  published: boolean;
  body: PhoenixNotification;
}

/** Publishes through SNS when there is a topic, and remembers every notification for the report. */
export class RecordingNotifier implements NotificationPublisher {
  readonly sent: SentNotification[];
  readonly #inner: NotificationPublisher | undefined;

  /** `sent` may be shared with another recorder (one report, several publishers). */
  constructor(inner: NotificationPublisher | undefined, sent: SentNotification[] = []) {
    this.#inner = inner;
    this.sent = sent;
  }

  async publish(n: PhoenixNotification): Promise<void> {
    if (this.#inner !== undefined) await this.#inner.publish(n);
    this.sent.push({
      event: n.event,
      team: n.team,
      fleet: n.fleet,
      instanceId: n.instanceId,
      severity: n.severity,
      subject: notificationSubject(n),
      published: this.#inner !== undefined,
      body: n,
    });
  }
}

/**
 * The evaluator's structured log, kept: it is where the evaluator says which instance it
 * judged drifted and why it did not replace one (the same lines an operator reads in
 * CloudWatch). Reconcile reads them for its report.
 */
class CapturingLogger implements DetectionLogger {
  readonly entries: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];

  debug(message: string, ...extra: Record<string, unknown>[]): void {
    this.#keep('debug', message, extra);
  }
  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.#keep('info', message, extra);
  }
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.#keep('warn', message, extra);
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.#keep('error', message, extra);
  }

  #keep(level: string, message: string, extra: Record<string, unknown>[]): void {
    this.entries.push({ level, message, fields: Object.assign({}, ...extra) });
  }
}

// ---- the report ---------------------------------------------------------------------------

/** How one remediation ended; `error` when the local run itself broke. */
export type RemediationOutcome =
  | 'succeeded'
  | 'skipped'
  | 'blocked'
  | 'manual-action-required'
  | 'rolled-back'
  | 'failed'
  | 'error';

/** One execution of the state machine, as the report shows it. */
export interface RemediationRecord {
  instanceId: string;
  fleet: string;
  team: string;
  execution: string;
  /**
   * The execution's ARN: its identity in the state table (lease, group lock, claim on the
   * instance). Unique per execution even where names repeat (two runs at once).
   */
  executionArn: string;
  /** 0: started by an event handled before reconcile; n: started by the sweep of round n. */
  round: number;
  outcome: RemediationOutcome;
  /** Short and stable: `replaced`, `paused`, `in-sync`, `budget`, `rolled-back`, … */
  reason: string;
  detail: string;
  replacementId: string | null;
  error: string | null;
  cause: string | null;
  reasons: DriftReason[];
  trigger: string;
  principal: string | null;
  launchTemplate: { id: string; name: string; version: number };
  transitions: number;
  apiCalls: number;
  durationMs: number;
}

/** A drifted instance no execution was started for, and why. */
export interface HeldInstance {
  instanceId: string;
  fleet: string;
  round: number;
  why: string;
  reasons: DriftReason[];
}

/** What one round's sweep found and did. */
export interface RoundRecord {
  round: number;
  judged: number;
  inSync: number;
  drifted: number;
  notApplicable: number;
  started: number;
  alreadyStarted: number;
  held: number;
}

/** A drifted instance the final sweep still found. */
export interface LeftDrifted {
  instanceId: string;
  fleet: string;
  reasons: DriftReason[];
  /** Why it is still drifted: the last execution's end, the evaluator's reason, the fleet's mode. */
  why: string;
}

/** The whole report; `JSON.stringify` of this is the `--format json` output. */
export interface ReconcileReport {
  schemaVersion: typeof RECONCILE_SCHEMA_VERSION;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  desiredState: { file: string | null; revision: string; commit: string };
  target: {
    region: string;
    endpoint: string | null;
    table: string;
    topicArn: string | null;
    waits: 'zero' | 'real';
  };
  converged: boolean;
  /** `nothing-new`: the last sweep started nothing; `round-limit`: work was left after the last round. */
  stoppedBecause: 'nothing-new' | 'round-limit';
  rounds: RoundRecord[];
  summary: {
    fleets: number;
    instancesJudged: number;
    driftFound: number;
    replaced: number;
    skipped: number;
    blocked: number;
    rolledBack: number;
    failed: number;
    manualActionRequired: number;
    held: number;
    leftDrifted: number;
    notifications: number;
  };
  remediations: RemediationRecord[];
  held: HeldInstance[];
  leftDrifted: LeftDrifted[];
  notifications: Array<Omit<SentNotification, 'body'>>;
  errors: string[];
}

// ---- progress -----------------------------------------------------------------------------

/** What reconcile reports while it works. */
export type ReconcileProgress =
  | { type: 'round'; round: number; pending: number }
  | { type: 'sweep'; round: number; record: RoundRecord }
  | { type: 'execution-start'; instanceId: string; fleet: string; execution: string; reasons: DriftReason[] }
  | { type: 'state'; instanceId: string; fleet: string; state: string; elapsedMs: number; retry?: string }
  | { type: 'execution-end'; record: RemediationRecord }
  | { type: 'held'; held: HeldInstance };

// ---- the engine ---------------------------------------------------------------------------

/** The clients reconcile works with (the local runner's): each only needs `send`. */
export type ReconcileClients = LocalClients;

export interface ReconcilerOptions {
  desiredState: CompiledDesiredState;
  clients: ReconcileClients;
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
  /** Defaults to the wall clock. */
  clock?: () => Date;
  /** Overrides of the remediation timings put in every execution input. */
  timings?: Partial<Timings>;
  onProgress?: (event: ReconcileProgress) => void;
  /** Awaited after every Task state of every execution (invariant checks in tests). */
  afterState?: (event: AfterStateEvent & { instanceId: string; fleet: string }) => Promise<void> | void;
  /** Test-only runner faults, for every execution. */
  faults?: Faults;
  /**
   * With instant waits: called when an execution must wait for its fleet's window (tests move
   * their clock to `opensAt`). Without it, instant-wait executions of a fleet whose window is
   * closed are not run; they are reported as waiting for the window.
   */
  waitForWindow?: (opensAt: Date) => Promise<void>;
  /** The desired-state file, for the report. */
  file?: string;
  /** The endpoint, for the report. */
  endpoint?: string;
  /**
   * Sees every AWS call before it is sent, as the principal that would make it in AWS: the
   * evaluator's (Config and Step Functions included), the steps function's and the state
   * machine's (tests decide each against that role's IAM policy).
   */
  gate?: CallGate;
}

const END_STATES: Readonly<Record<string, RemediationOutcome>> = {
  RolledBack: 'rolled-back',
  RolledBackUnreported: 'rolled-back',
  Failed: 'failed',
  FailedUnreported: 'failed',
};

/** The states worth showing as progress: the ones that do or wait for something. */
const VISIBLE_STATES: ReadonlySet<string> = (() => {
  const names = new Set<string>();
  const visit = (states: Record<string, { Type?: string } & Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' || state.Type === 'Wait' || state.Type === 'Map') names.add(name);
      const processor = state.ItemProcessor as { States?: typeof states } | undefined;
      if (processor?.States !== undefined) visit(processor.States);
    }
  };
  visit(definitionJson.States as unknown as Record<string, { Type?: string } & Record<string, unknown>>);
  return names;
})();

function sortById<T extends { instanceId: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

function fieldString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
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
  /** The steps function's notifications: in AWS, published by its own role. */
  readonly #stepsNotifier: RecordingNotifier;
  readonly #logger = new CapturingLogger();
  readonly #deps: DetectionDeps;
  readonly #remediations: RemediationRecord[] = [];
  readonly #held: HeldInstance[] = [];
  readonly #rounds: RoundRecord[] = [];
  readonly #errors: string[] = [];
  #round = 0;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#region = options.region ?? 'us-east-1';
    const stateMachineArn = `arn:aws:states:${this.#region}:${LOCAL_ACCOUNT}:stateMachine:${STATE_MACHINE_NAME}`;
    this.#sfn = new LocalStepFunctions(stateMachineArn);
    const gate = options.gate;
    const evaluator = gateClients(options.clients, 'evaluator', gate);
    const stepsSns = gateClient(options.clients.sns, 'sns', 'remediation-steps', gate);
    const topicArn = options.topicArn;
    this.#notifier = new RecordingNotifier(
      topicArn === undefined ? undefined : new Notifier(evaluator.sns, topicArn),
    );
    this.#stepsNotifier = new RecordingNotifier(
      topicArn === undefined ? undefined : new Notifier(stepsSns, topicArn),
      this.#notifier.sent,
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
      logger: this.#logger,
      metrics: { addMetric: () => {} },
    };
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
   * Runs every execution started since the last call, at most `concurrency` at once and at
   * most the fleet's `maxConcurrent` per fleet; resolves when all have ended.
   */
  async runPending(round = this.#round): Promise<RemediationRecord[]> {
    const queue = this.#sfn.takePending();
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
          const fleetLimit = fleet?.budget.maxConcurrent ?? 1;
          const busy = inFlight.get(next.input.fleet) ?? 0;
          if (busy >= fleetLimit) {
            i += 1;
            continue;
          }
          queue.splice(i, 1);
          running += 1;
          inFlight.set(next.input.fleet, busy + 1);
          this.#execute(next, round)
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
    return records;
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
    let lastSweepFrom = 0;

    if (this.#sfn.started.length > 0) {
      this.#progress({ type: 'round', round: 0, pending: this.#sfn.started.length });
      await this.runPending(0);
    }
    // Round maxRounds + 1 only sweeps: it says whether the last round left work behind.
    for (let round = 1; round <= maxRounds + 1; round += 1) {
      this.#round = round;
      this.#progress({ type: 'round', round, pending: 0 });
      lastSweepFrom = this.#logger.entries.length;
      const startedBefore = this.#sfn.started.length;
      const summary = await this.#sweepCounted(round);
      const record = this.#roundRecord(round, summary, lastSweepFrom);
      this.#rounds.push(record);
      this.#progress({ type: 'sweep', round, record });
      this.#noteHeld(round, lastSweepFrom);
      if (this.#sfn.started.length === startedBefore) {
        stoppedBecause = 'nothing-new';
        break;
      }
      if (round > maxRounds) break;
      await this.runPending(round);
    }

    const leftDrifted = this.#leftDrifted(lastSweepFrom, stoppedBecause);
    const finishedAt = this.#clock();
    const remediations = [...this.#remediations];
    const count = (outcome: RemediationOutcome) => remediations.filter((r) => r.outcome === outcome).length;
    // Each instance by its last remediation: one blocked in a round and replaced in a later
    // one (its next attempt) is resolved. A blocked one changed nothing: if the last sweep no
    // longer finds it drifted (another run, the deployed stack or a person replaced or fixed
    // it), it is resolved too; if it does, it is left drifted. The other ends need reading.
    const last = new Map(remediations.map((r) => [r.instanceId, r]));
    const unresolved = [...last.values()].some((r) =>
      ['rolled-back', 'failed', 'manual-action-required', 'error'].includes(r.outcome),
    );
    const driftFound = new Set([
      ...remediations.map((r) => r.instanceId),
      ...this.#held.map((h) => h.instanceId),
      ...leftDrifted.map((l) => l.instanceId),
    ]).size;
    return {
      schemaVersion: RECONCILE_SCHEMA_VERSION,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Date.now() - wallStart,
      desiredState: {
        file: this.#options.file ?? null,
        revision: this.#options.desiredState.revision,
        commit: this.#options.desiredState.provenance.commit,
      },
      target: {
        region: this.#region,
        endpoint: this.#options.endpoint ?? null,
        table: this.#options.tableName,
        topicArn: this.#options.topicArn ?? null,
        waits: this.#options.waits ?? 'real',
      },
      converged:
        this.#errors.length === 0 &&
        stoppedBecause === 'nothing-new' &&
        leftDrifted.length === 0 &&
        !unresolved,
      stoppedBecause,
      rounds: [...this.#rounds],
      summary: {
        fleets: this.#options.desiredState.fleets.length,
        instancesJudged: this.#rounds.at(-1)?.judged ?? 0,
        driftFound,
        replaced: count('succeeded'),
        skipped: count('skipped'),
        blocked: count('blocked'),
        rolledBack: count('rolled-back'),
        failed: count('failed') + count('error'),
        manualActionRequired: count('manual-action-required'),
        held: this.#held.length,
        leftDrifted: leftDrifted.length,
        notifications: this.#notifier.sent.length,
      },
      remediations,
      held: [...this.#held],
      leftDrifted,
      notifications: this.#notifier.sent.map(({ body: _body, ...rest }) => rest),
      errors: [...this.#errors],
    };
  }

  // ---- internals ----------------------------------------------------------------------

  #fleet(name: string): CompiledFleet | undefined {
    return this.#options.desiredState.fleets.find((f) => f.name === name);
  }

  #progress(event: ReconcileProgress): void {
    this.#options.onProgress?.(event);
  }

  async #sweepCounted(round: number): Promise<DetectionSummary | undefined> {
    try {
      return await this.sweep();
    } catch (error) {
      // Partial failures (one fleet unreadable…): what was started still runs; the run fails.
      this.#errors.push(`sweep of round ${round}: ${describeError(error)}`);
      return undefined;
    }
  }

  #roundRecord(round: number, summary: DetectionSummary | undefined, from: number): RoundRecord {
    const entries = this.#logger.entries.slice(from);
    const startedNow = entries.filter((e) => e.message === 'Remediation started').length;
    return {
      round,
      judged: summary?.judged ?? 0,
      inSync: summary?.compliant ?? 0,
      drifted: summary?.nonCompliant ?? 0,
      notApplicable: summary?.notApplicable ?? 0,
      started: summary?.remediationsStarted ?? startedNow,
      alreadyStarted: summary?.remediationsAlreadyStarted ?? 0,
      held: summary?.remediationsHeld ?? 0,
    };
  }

  /** The evaluator's "not replaced" lines of this sweep, kept as held instances. */
  #noteHeld(round: number, from: number): void {
    const drifted = this.#driftedIn(from);
    for (const entry of this.#logger.entries.slice(from)) {
      if (entry.message !== 'Drifted instance not replaced') continue;
      const instanceId = fieldString(entry.fields, 'instanceId') ?? '';
      if (this.#held.some((h) => h.instanceId === instanceId && h.round === round)) continue;
      const held: HeldInstance = {
        instanceId,
        fleet: fieldString(entry.fields, 'fleet') ?? '',
        round,
        why: fieldString(entry.fields, 'why') ?? 'not replaced',
        reasons: drifted.get(instanceId)?.reasons ?? [],
      };
      this.#held.push(held);
      this.#progress({ type: 'held', held });
    }
  }

  /** Instances the sweep starting at log entry `from` judged drifted. */
  #driftedIn(from: number): Map<string, { fleet: string; reasons: DriftReason[] }> {
    const drifted = new Map<string, { fleet: string; reasons: DriftReason[] }>();
    for (const entry of this.#logger.entries.slice(from)) {
      if (entry.message !== 'Instance drifted') continue;
      const instanceId = fieldString(entry.fields, 'instanceId');
      if (instanceId === undefined) continue;
      const reasons = Array.isArray(entry.fields.reasons) ? (entry.fields.reasons as DriftReason[]) : [];
      drifted.set(instanceId, { fleet: fieldString(entry.fields, 'fleet') ?? '', reasons });
    }
    return drifted;
  }

  #leftDrifted(from: number, stoppedBecause: ReconcileReport['stoppedBecause']): LeftDrifted[] {
    const left: LeftDrifted[] = [];
    const entries = this.#logger.entries.slice(from);
    for (const [instanceId, { fleet, reasons }] of this.#driftedIn(from)) {
      left.push({
        instanceId,
        fleet,
        reasons,
        why: this.#whyStillDrifted(instanceId, fleet, entries, stoppedBecause),
      });
    }
    return sortById(left);
  }

  #whyStillDrifted(
    instanceId: string,
    fleetName: string,
    entries: CapturingLogger['entries'],
    stoppedBecause: ReconcileReport['stoppedBecause'],
  ): string {
    const about = entries.filter((e) => e.fields.instanceId === instanceId);
    const held = about.find((e) => e.message === 'Drifted instance not replaced');
    if (held !== undefined) return fieldString(held.fields, 'why') ?? 'not replaced';
    const stopped = about.find((e) => e.message.startsWith('Drifted instance is not running'));
    if (stopped !== undefined) {
      return `instance is ${fieldString(stopped.fields, 'state') ?? 'not running'}: only running instances are replaced`;
    }
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

  async #execute(started: StartedExecution, round: number): Promise<RemediationRecord | undefined> {
    const { input, name } = started;
    const fleet = this.#fleet(input.fleet);
    const zero = this.#options.waits === 'zero';
    if (zero && this.#options.waitForWindow === undefined && fleet?.window !== undefined) {
      const now = this.#clock();
      if (!isWindowOpen(fleet.window, now)) {
        const opensAt = nextWindowOpening(fleet.window, now).toISOString();
        const held: HeldInstance = {
          instanceId: input.instanceId,
          fleet: input.fleet,
          round,
          why: `waiting for the maintenance window of fleet ${input.fleet} (${fleet.window.timezone}), which opens at ${opensAt}: run reconcile again then, or pass --real-waits to wait for it`,
          reasons: driftReasons(input.reasons),
        };
        this.#held.push(held);
        this.#progress({ type: 'held', held });
        return undefined;
      }
    }

    const timed: RemediationInput = {
      ...input,
      timings: { ...(input.timings ?? {}), ...(this.#options.timings ?? {}) },
    };
    this.#progress({
      type: 'execution-start',
      instanceId: input.instanceId,
      fleet: input.fleet,
      execution: name,
      reasons: driftReasons(input.reasons),
    });
    let result: RunResult;
    try {
      result = await runRemediation(timed, {
        clients: this.#options.clients,
        deps: {
          desiredState: this.#options.desiredState,
          tableName: this.#options.tableName,
          // Unused by the definition itself: notifications go through the notifier below.
          topicArn:
            this.#options.topicArn ?? `arn:aws:sns:${this.#region}:${LOCAL_ACCOUNT}:phoenix-unpublished`,
          clock: this.#clock,
          notifier: this.#stepsNotifier,
          region: this.#region,
        },
        waits: this.#options.waits ?? 'real',
        executionName: name,
        executionArn: started.executionArn,
        onEvent: (event) => this.#onRunEvent(event, input.fleet),
        afterState: (event) => this.#afterState(event, input),
        ...(this.#options.faults === undefined ? {} : { faults: this.#options.faults }),
        ...(this.#options.gate === undefined ? {} : { gate: this.#options.gate }),
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
      this.#errors.push(`execution ${name}: ${error.message}`);
      return record;
    }
    return this.#record(started, round, outcomeOf(result), result);
  }

  #onRunEvent(event: RunEvent, fleet: string): void {
    const { state, instanceId, elapsedMs } = event;
    if (state === undefined) return;
    if (event.type === 'StateEntered' && VISIBLE_STATES.has(state)) {
      this.#progress({ type: 'state', instanceId, fleet, state, elapsedMs });
    } else if (event.type === 'StateRetried') {
      this.#progress({ type: 'state', instanceId, fleet, state, elapsedMs, retry: event.error ?? 'error' });
    }
  }

  async #afterState(event: AfterStateEvent, input: RemediationInput): Promise<void> {
    if (
      this.#options.waits === 'zero' &&
      event.state === 'Recheck' &&
      event.error === undefined &&
      isWaitDecision(event.output)
    ) {
      const opensAt = new Date(event.output.windowOpensAt);
      if (this.#options.waitForWindow !== undefined) {
        await this.#options.waitForWindow(opensAt);
      } else {
        // The window closed between the check before starting and the recheck: the Wait
        // state is instant here, so wait for real rather than spin through Recheck.
        await sleepUntil(opensAt, this.#clock);
      }
    }
    await this.#options.afterState?.({ ...event, instanceId: input.instanceId, fleet: input.fleet });
  }

  #record(
    started: StartedExecution,
    round: number,
    outcome: Pick<RemediationRecord, 'outcome' | 'reason' | 'detail' | 'error' | 'cause'> & {
      replacementId?: string | null;
    },
    result?: RunResult,
  ): RemediationRecord {
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
    this.#remediations.push(record);
    this.#progress({ type: 'execution-end', record });
    return record;
  }
}

function isWaitDecision(output: unknown): output is { decision: 'wait'; windowOpensAt: string } {
  if (typeof output !== 'object' || output === null) return false;
  const o = output as { decision?: unknown; windowOpensAt?: unknown };
  return o.decision === 'wait' && typeof o.windowOpensAt === 'string';
}

async function sleepUntil(at: Date, clock: () => Date): Promise<void> {
  const ms = at.getTime() - clock().getTime();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** How a run ended, from its output (Succeed) or its final state (Fail). */
function outcomeOf(result: RunResult): Pick<
  RemediationRecord,
  'outcome' | 'reason' | 'detail' | 'error' | 'cause'
> & {
  replacementId: string | null;
} {
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
function driftReasons(reasons: RemediationInput['reasons']): DriftReason[] {
  return reasons as DriftReason[];
}

// ---- the state table ----------------------------------------------------------------------

/**
 * Makes sure the state table exists. A named table (`--table`, a deployed stack's) must
 * exist; the default local table is created with the deployed key schema and TTL.
 * Returns whether it was created.
 */
export async function ensureStateTable(
  dynamodb: Pick<DynamoDBClient, 'send'>,
  tableName: string,
  options: { create: boolean },
): Promise<boolean> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
    if (!options.create) {
      throw new StateTableMissingError(
        `state table ${tableName} does not exist on this endpoint: pass the table of the deployed Phoenix stack (its TableName output), or leave --table out to use a local ${DEFAULT_TABLE_NAME} table`,
      );
    }
  }
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  await waitUntilTableExists(
    { client: dynamodb as DynamoDBClient, maxWaitTime: 120, minDelay: 1 },
    { TableName: tableName },
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
  return true;
}

// ---- rendering ----------------------------------------------------------------------------

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function reasonsText(reasons: readonly DriftReason[]): string {
  return reasons.length === 0 ? '(no reasons recorded)' : describeReasons(reasons);
}

/** A terminal control sequence (cursor moves, line clears). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/**
 * Shows progress as it happens. On a terminal, one line per running execution (instance,
 * fleet, step, elapsed) is rewritten in place, and finished work scrolls above it; anywhere
 * else, one plain line per event.
 */
export class ProgressPrinter {
  readonly #write: (text: string) => void;
  readonly #live: boolean;
  readonly #running = new Map<string, { fleet: string; state: string; since: number }>();
  readonly #prefix: string;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param write  writes one chunk of text and a line break (`CliIo.stdout`)
   * @param live   rewrite running executions in place (a terminal)
   * @param prefix put before every line (the demo indents progress under its steps)
   */
  constructor(write: (text: string) => void, live: boolean, prefix = '') {
    this.#write = write;
    this.#live = live;
    this.#prefix = prefix;
  }

  /** Feed this to {@link ReconcilerOptions.onProgress}. */
  readonly onProgress = (event: ReconcileProgress): void => {
    const lines = this.#linesFor(event);
    if (!this.#live) {
      for (const line of lines) this.#write(`${this.#prefix}${line}`);
      return;
    }
    if (event.type === 'execution-start') {
      this.#running.set(event.instanceId, { fleet: event.fleet, state: 'Starting', since: Date.now() });
      this.#ensureTimer();
    } else if (event.type === 'state') {
      const running = this.#running.get(event.instanceId);
      if (running !== undefined)
        running.state = event.retry === undefined ? event.state : `${event.state} (retry)`;
    } else if (event.type === 'execution-end') {
      this.#running.delete(event.record.instanceId);
    }
    this.#draw(event.type === 'state' ? [] : lines);
  };

  /** Stops the clock and leaves the screen clean. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#live) {
      this.#running.clear();
      this.#draw([]);
    }
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running.size > 0) this.#draw([]);
    }, 250);
    this.#timer.unref();
  }

  #draw(permanent: string[]): void {
    const now = Date.now();
    const block = [...this.#running.entries()].map(
      ([id, r]) => `  ▸ ${id}  ${r.fleet.padEnd(12)} ${r.state.padEnd(30)} ${seconds(now - r.since)}`,
    );
    const lines = [...permanent, ...block].map((line) => `${this.#prefix}${line}`);
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}A\x1b[J` : '';
    if (lines.length === 0) {
      if (this.#drawn > 0) this.#write(`${up}\x1b[1A`);
    } else {
      this.#write(`${up}${lines.join('\n')}`);
    }
    this.#drawn = block.length;
  }

  #linesFor(event: ReconcileProgress): string[] {
    switch (event.type) {
      case 'round':
        return event.round === 0
          ? [`Running ${plural(event.pending, 'remediation')} started by events…`]
          : [`Round ${event.round}: sweeping every declared fleet…`];
      case 'sweep': {
        const r = event.record;
        const acted = r.started === 0 ? 'nothing new to do' : `${plural(r.started, 'remediation')} started`;
        const more = [
          r.alreadyStarted > 0 ? `${r.alreadyStarted} already handled` : '',
          r.held > 0 ? `${r.held} not replaced` : '',
        ].filter((s) => s !== '');
        return [
          `Round ${r.round}: judged ${plural(r.judged, 'instance')}: ${r.inSync} in sync, ${r.drifted} drifted${r.notApplicable > 0 ? `, ${r.notApplicable} not applicable` : ''} → ${acted}${more.length > 0 ? ` (${more.join(', ')})` : ''}`,
        ];
      }
      case 'execution-start':
        return [`  ${event.instanceId} (${event.fleet}) drifted: ${reasonsText(event.reasons)}`];
      case 'state':
        return [
          `  [${seconds(event.elapsedMs).padStart(6)}] ${event.instanceId} ${event.state}${event.retry === undefined ? '' : ` retried after ${event.retry}`}`,
        ];
      case 'execution-end':
        return [
          `  [${seconds(event.record.durationMs).padStart(6)}] ${event.record.instanceId} ${endText(event.record)}`,
        ];
      case 'held':
        return [`  ${event.held.instanceId} (${event.held.fleet}) not replaced: ${event.held.why}`];
    }
  }
}

function endText(record: RemediationRecord): string {
  switch (record.outcome) {
    case 'succeeded':
      return `replaced by ${record.replacementId ?? 'its replacement'} ✓`;
    case 'skipped':
      return `skipped: ${record.reason}`;
    case 'blocked':
      return `blocked: ${record.detail}`;
    case 'manual-action-required':
      return `manual action required: ${record.detail}`;
    case 'rolled-back':
      return `ROLLED BACK (${record.error ?? 'error'})`;
    case 'failed':
    case 'error':
      return `FAILED (${record.error ?? 'error'}): ${record.cause ?? record.detail}`;
  }
}

/** The text report: what happened to every drifted instance, then a summary line. */
export function renderReport(report: ReconcileReport): string {
  const lines: string[] = [];
  const ds = report.desiredState;
  const t = report.target;
  lines.push(
    `Reconciled ${ds.file ?? 'the desired state'} (revision ${ds.revision}, commit ${ds.commit}) in ${seconds(report.durationMs)}`,
    `  account: ${t.endpoint ?? 'AWS'} (${t.region}), state table ${t.table}, notifications ${t.topicArn === null ? 'not published (no topic)' : `to ${t.topicArn}`}, waits ${t.waits}`,
  );
  const by = (outcome: RemediationOutcome) => report.remediations.filter((r) => r.outcome === outcome);
  const section = (title: string, rows: string[]) => {
    if (rows.length === 0) return;
    lines.push('', title);
    lines.push(...rows);
  };
  section(
    'Replaced',
    by('succeeded').flatMap((r) => [
      `  ${r.instanceId} → ${r.replacementId ?? '?'}  (${r.fleet}, ${r.launchTemplate.name} v${r.launchTemplate.version}, ${seconds(r.durationMs)}, ${r.transitions} states)`,
      `      ${reasonsText(r.reasons)}${r.principal === null ? '' : `; changed by ${r.principal}`}`,
    ]),
  );
  section(
    'Skipped',
    by('skipped').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.reason}: ${r.detail}`),
  );
  section(
    'Blocked',
    by('blocked').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.detail}`),
  );
  section(
    'Rolled back',
    by('rolled-back').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.cause ?? r.detail}`),
  );
  section(
    'Manual action required',
    by('manual-action-required').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.detail}`),
  );
  section(
    'Failed',
    [...by('failed'), ...by('error')].map(
      (r) => `  ${r.instanceId} (${r.fleet}): ${r.error ?? ''} ${r.cause ?? r.detail}`,
    ),
  );
  section(
    'Not replaced',
    report.held.map((h) => `  ${h.instanceId} (${h.fleet}): ${h.why}`),
  );
  section(
    'Still drifted',
    report.leftDrifted.map((l) => `  ${l.instanceId} (${l.fleet}): ${reasonsText(l.reasons)} — ${l.why}`),
  );
  section(
    'Errors',
    report.errors.map((e) => `  ${e}`),
  );
  if (report.notifications.length > 0) {
    const perTeam = new Map<string, Map<string, number>>();
    for (const n of report.notifications) {
      const events = perTeam.get(n.team) ?? new Map<string, number>();
      events.set(n.event, (events.get(n.event) ?? 0) + 1);
      perTeam.set(n.team, events);
    }
    section(
      `Notifications${t.topicArn === null ? ' (not published: no topic)' : ''}`,
      [...perTeam.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([team, events]) =>
            `  ${team}: ${[...events.entries()].map(([event, n]) => `${n} ${event}`).join(', ')}`,
        ),
    );
  }
  const s = report.summary;
  lines.push('');
  if (s.driftFound === 0 && report.converged) {
    lines.push(
      `Nothing to do: ${plural(s.instancesJudged, 'instance')} in ${plural(s.fleets, 'fleet')}, none drifted.`,
    );
  } else {
    const parts = [
      `${s.replaced} replaced`,
      s.skipped > 0 ? `${s.skipped} skipped` : '',
      s.blocked > 0 ? `${s.blocked} blocked` : '',
      s.rolledBack > 0 ? `${s.rolledBack} rolled back` : '',
      s.manualActionRequired > 0 ? `${s.manualActionRequired} need manual action` : '',
      s.failed > 0 ? `${s.failed} failed` : '',
      s.held > 0 ? `${s.held} not replaced` : '',
    ].filter((p) => p !== '');
    const verdict = report.converged
      ? 'Converged: every instance matches the desired state.'
      : report.stoppedBecause === 'round-limit'
        ? `NOT converged: stopped after ${plural(report.rounds.length - 1, 'round')} with work left.`
        : `NOT converged: ${plural(s.leftDrifted, 'instance')} still drifted.`;
    lines.push(`Drift found on ${plural(s.driftFound, 'instance')}: ${parts.join(', ')}. ${verdict}`);
  }
  return lines.join('\n');
}

/** Text without terminal control sequences (for logs and tests). */
export function plainText(text: string): string {
  return text.replace(ANSI, '');
}

// ---- the command --------------------------------------------------------------------------

const HELP = `Usage: phoenix reconcile --desired-state FILE [--format text|json] [--region REGION]
                         [--endpoint URL] [--table NAME] [--topic-arn ARN]
                         [--concurrency N] [--max-rounds N] [--real-waits]

Detects drift with the evaluator's own sweep and remediates it with the real state
machine, run locally against the account the AWS SDK is configured for, round after
round until nothing is left to do. Budgets (leases) and windows are respected.

Options:
  --desired-state FILE  the desired-state file (phoenix.yaml)
  --format text|json    report format (default: text); JSON is documented in docs/cli/reconcile.md
${awsOptionsUsage(24)}
  --table NAME          the state table of the deployed Phoenix stack (default: $PHOENIX_TABLE_NAME;
                        without either, a local table ${DEFAULT_TABLE_NAME} is created if missing)
  --topic-arn ARN       publish notifications to this topic (default: $PHOENIX_TOPIC_ARN;
                        without either, notifications are listed in the report only)
  --concurrency N       executions at once, all fleets together (default ${DEFAULT_CONCURRENCY});
                        never more than a fleet's maxConcurrent for one fleet
  --max-rounds N        sweeps at most (default ${DEFAULT_MAX_ROUNDS})
  --real-waits          run the state machine's Wait states as defined (health-check interval,
                        deregistration delay, window). Implied unless the endpoint is on this
                        machine (an emulated account), where waits are instant.

Exit status: 0 converged, 2 something is left drifted (blocked, rolled back, held…), 1 error.`;

const OPTIONS = {
  'desired-state': { type: 'string' },
  format: { type: 'string' },
  ...AWS_OPTIONS,
  ...STATE_TABLE_OPTION,
  'topic-arn': { type: 'string' },
  concurrency: { type: 'string' },
  'max-rounds': { type: 'string' },
  'real-waits': { type: 'boolean' },
} as const;

/** Whether the endpoint is on this machine: only there are instant waits safe. */
export function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined || endpoint === '') return false;
  try {
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** A number flag, checked whole and ≥ 1 with the other flags; the default when it is absent. */
function countFrom(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : Number(text);
}

/** Runs `phoenix reconcile`; returns the exit code (0 converged, 2 not converged, 1 error). */
export async function run(argv: string[], io: CliIo): Promise<number> {
  // Help and usage errors exit 0 or 1, which are EXIT_CONVERGED and EXIT_ERROR.
  const parsed = parseCommandLine('reconcile', argv, OPTIONS, HELP, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const file = requiredDesiredStateFile('reconcile', values, io);
  if (file === undefined) return EXIT_ERROR;
  const format = outputFormatFrom(values);
  const concurrency = countFrom(values.concurrency, DEFAULT_CONCURRENCY);
  const maxRounds = countFrom(values['max-rounds'], DEFAULT_MAX_ROUNDS);
  const clientOptions = awsClientOptions('reconcile', values, io);
  if (clientOptions === undefined) return EXIT_ERROR;
  const named = stateTableFrom('reconcile', values, io);
  if (named === undefined) return EXIT_ERROR;
  const topic = topicArnFrom('reconcile', values, io);
  if (topic === undefined) return EXIT_ERROR;

  const desired = await loadDesiredStateFor('reconcile', file, io);
  if (desired === undefined) return EXIT_ERROR;

  const endpoint = values.endpoint ?? io.env.AWS_ENDPOINT_URL;
  const clients = makeClients(clientOptions);
  const namedTable = named.table;
  const tableName = namedTable ?? DEFAULT_TABLE_NAME;
  const topicArn = topic.topicArn;
  const waits = values['real-waits'] === true || !isLocalEndpoint(endpoint) ? 'real' : 'zero';
  // Progress goes where it does not spoil the report: stdout for text, stderr for JSON.
  const progress =
    format === 'text'
      ? new ProgressPrinter((text) => io.stdout(text), io.isTTY)
      : new ProgressPrinter((text) => io.stderr(text), false);

  try {
    const region = await clients.ec2.config.region();
    const created = await ensureStateTable(clients.dynamodb, tableName, {
      create: namedTable === undefined,
    });
    const note = (text: string) => (format === 'text' ? io.stdout(text) : io.stderr(text));
    if (created) note(`Created the local state table ${tableName} on ${endpoint ?? `AWS (${region})`}.`);
    if (waits === 'real' && values['real-waits'] !== true) {
      note('Talking to AWS itself: the state machine waits as defined (health checks, draining, windows).');
    }
    const options: ReconcilerOptions = {
      desiredState: desired,
      clients,
      tableName,
      region,
      waits,
      concurrency,
      maxRounds,
      onProgress: progress.onProgress,
      file,
    };
    if (topicArn !== undefined) options.topicArn = topicArn;
    if (endpoint !== undefined && endpoint !== '') options.endpoint = endpoint;
    const report = await new Reconciler(options).reconcile();
    progress.stop();
    io.stdout(format === 'json' ? JSON.stringify(report, null, 2) : `\n${renderReport(report)}`);
    if (report.errors.length > 0) return EXIT_ERROR;
    return report.converged ? EXIT_CONVERGED : EXIT_NOT_CONVERGED;
  } catch (error) {
    progress.stop();
    const message = error instanceof PhoenixError ? error.message : describeError(error);
    io.stderr(`phoenix reconcile: ${message}`);
    return EXIT_ERROR;
  } finally {
    clients.destroy();
  }
}
