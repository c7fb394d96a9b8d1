/**
 * The cost model: what running Phoenix costs in AWS charges a month, for a fleet of N
 * instances, from what the benchmarks counted (a remediation's state transitions, Lambda
 * invocations and AWS calls; the evaluator's work per event and per swept instance) and the
 * price table in prices.ts.
 *
 * The month modelled: 1 % of the instances drifted by hand (each detected, replaced, the old
 * one deleted), one full image roll (every instance replaced once), the periodic sweep every
 * twelve hours. The account's Config recorder (configuration items) is not Phoenix's and is
 * left out; so are free tiers. Fixed charges (the topic's KMS key, alarms, custom metrics)
 * do not grow with the fleet and are reported on their own.
 *
 * The lease queue (ADR 32): a replacement that waits for its lease spends no state
 * transition and no Lambda invocation while it waits; what it costs beyond a lease taken at
 * once is its park, the `admit` reads and its grant, the granter's recheck included
 * (DynamoDB; its EC2 and Auto Scaling reads are not billed), its task success and the
 * sweeper's heartbeats (Step Functions API calls, not billed: {@link PRICES.stepFunctionsApiCall}),
 * each heartbeat recorded (one UpdateItem). `RetireOld` retrying its group's busy lock costs a
 * transition, an invocation and the refused try's calls a retry (since 07f9b81 the lock's
 * TransactWriteItems and the UpdateItem registering it among the waiting retirements; a
 * PutItem before). The roll's figures come from the convergence
 * model ({@link RollUsage}): in a roll whose launches wait for EC2's RunInstances tokens, the
 * health check goes round more often, and those transitions are charged. The sweeper runs
 * every five minutes whatever happens (8,760 scheduled invocations a month): one Lambda
 * invocation, and per fleet one Query for its leases and one per AZ queue.
 *
 * AWS Config bills every evaluation a rule records. What Phoenix records, per instance:
 * - drifted by hand: the change notification's NON_COMPLIANT, the replacement's COMPLIANT
 *   when Config records it, the old instance's NOT_APPLICABLE when it is deleted (Config keeps
 *   a deleted resource's last result until it is told NOT_APPLICABLE) — 3;
 * - replaced by a roll: the replacement's COMPLIANT and the old one's NOT_APPLICABLE (2), plus
 *   NON_COMPLIANT when a periodic sweep finds it still drifted mid-roll (the share of the sweep
 *   period the roll lasts);
 * - the sweep: with the compliance ledger, only evaluations that changed since the last report
 *   (change notifications keep the ledger in step, so a steady estate sends none); reporting
 *   everything, every instance every sweep.
 */
import { PRICES, type Price, type TieredPrice, tieredCost } from './prices';

/** One replacement as the remediation benchmark recorded it. */
export interface ReplacementUsage {
  /** State transitions on AWS, health-check rounds included. */
  transitions: number;
  /** Steps Lambda invocations. */
  lambdaInvocations: number;
  /** AWS calls by `Service.Operation`, as the benchmark counted them. */
  apiCalls: Readonly<Record<string, number>>;
  /** History events (the state machine logs each, with its input and output). */
  historyEvents: number;
}

/** What one replacement and one event cost in work, measured or stated. */
export interface UsageProfile {
  /** A member of an Auto Scaling group, and a standalone instance. */
  asg: ReplacementUsage;
  standalone: ReplacementUsage;
  /** Share of the fleet in Auto Scaling groups (the rest standalone). */
  asgShare: number;
  /** Billed milliseconds per steps-Lambda invocation (calls included), and its memory. */
  stepsMsPerInvocation: number;
  stepsMemoryMb: number;
  /** Billed milliseconds per evaluator event, per instance a sweep judges, and its memory. */
  evaluatorMsPerEvent: number;
  evaluatorMsPerSweptInstance: number;
  evaluatorMemoryMb: number;
  /** Notifications per instance drifted by hand, per instance of a roll, per roll. */
  notificationsPerHandDrift: number;
  notificationsPerRolledInstance: number;
  notificationsPerRoll: number;
  /** The full roll of the fleet as the convergence model ran it. */
  roll: RollUsage;
  /** The lease queue's sweeper: billed milliseconds and memory per pass. */
  sweeperMsPerPass: number;
  sweeperMemoryMb: number;
}

/** One full roll with the lease queue, per rolled instance unless said (the convergence model's figures). */
export interface RollUsage {
  /** How long the roll takes, hours (a sweep mid-roll reports the drifted). */
  hours: number;
  /**
   * State transitions beyond the replacement's own: health-check rounds while launches waited
   * for tokens, and retries (`RetireOld` waiting for its group's lock).
   */
  extraTransitions: number;
  /** Steps-Lambda invocations beyond the replacement's own: each retry invokes the function again. */
  extraInvocations: number;
  /**
   * Calls beyond a lease taken at once, by `Service.Operation`: parks, `admit` reads, grants
   * (the granter's recheck included), the refused lock try before each retry.
   */
  extraQueueCalls: Readonly<Record<string, number>>;
  /** Sweeper heartbeats: each a `SendTaskHeartbeat` and an UpdateItem recording it. */
  heartbeats: number;
  /** Parked waiter items the sweeper read (to find the ones to heartbeat). */
  sweeperWaiterReads: number;
}

export interface Workload {
  instances: number;
  /** Share of instances drifted by hand in a month. */
  handDriftShare: number;
  rollsPerMonth: number;
  /** The periodic sweep's period, hours (Config's `Twelve_Hours` by default). */
  sweepPeriodHours: number;
  /** The sweep reports every instance every time (Phoenix before the compliance ledger). */
  reportEverything: boolean;
  /** Fleets declared, and the Availability Zones each spans (the sweeper reads each fleet's queues). */
  fleets: number;
  azs: number;
}

/** One line of the bill. */
export interface CostLine {
  item: string;
  quantity: number;
  per: string;
  usd: number;
  source: string;
}

export interface MonthlyCost {
  usd: number;
  lines: CostLine[];
}

const HOURS_PER_MONTH = 730;
/** The lease queue's sweeper runs every five minutes: 8,760 passes in a 730-hour month. */
export const SWEEPER_PASSES_PER_MONTH = (HOURS_PER_MONTH * 60) / 5;
/** A parked waiter item's size, bytes (token, fleet, AZ, launch time, last heartbeat). */
const WAITER_ITEM_BYTES = 1024;
/** The bill's line for the queue sweeper's five-minute schedule. */
export const SWEEPER_SCHEDULE_LINE = 'EventBridge Scheduler (the queue sweeper)';
/** The bill's line for AWS Config's rule evaluations. */
export const CONFIG_LINE = 'AWS Config rule evaluations';
/** Bytes logged: per state machine history event (data included), per Lambda invocation, per swept instance. */
const LOG_BYTES = { historyEvent: 1024, invocation: 600, sweptInstance: 150 } as const;
/** Evaluator invocations per instance drifted by hand (CloudTrail, Config change, the replacement's and the old one's Config items, EC2 running) and per instance of a roll (the last three). */
const EVALUATOR_EVENTS = { handDrift: 5, rolledInstance: 3, perRoll: 1 } as const;
/** DynamoDB request units per evaluator event (notification claim, attempt read). */
const EVALUATOR_DYNAMODB = { write: 1, read: 2 } as const;

/**
 * Request units a DynamoDB call costs, stated conservatively: Phoenix's items are well under
 * 1 KB; strongly consistent reads cost 1 unit per 4 KB, transactions 2 units per item and
 * hold up to four items on the happy path, a batch read three items.
 */
const DYNAMODB_UNITS: Readonly<Record<string, { read?: number; write?: number }>> = {
  'DynamoDB.GetItem': { read: 1 },
  // The head of a queue, or a fleet's leases: a few items, well under 4 KB.
  'DynamoDB.BatchGetItem': { read: 3 },
  'DynamoDB.Query': { read: 1 },
  'DynamoDB.PutItem': { write: 1 },
  'DynamoDB.UpdateItem': { write: 1 },
  'DynamoDB.DeleteItem': { write: 1 },
  'DynamoDB.TransactWriteItems': { write: 8 },
};

function line(item: string, quantity: number, price: Price): CostLine {
  return { item, quantity, per: price.per, usd: quantity * price.usd, source: price.source };
}

function tieredLine(item: string, quantity: number, price: TieredPrice): CostLine {
  return { item, quantity, per: price.per, usd: tieredCost(price, quantity), source: price.source };
}

function weighted(usage: UsageProfile, pick: (r: ReplacementUsage) => number): number {
  return usage.asgShare * pick(usage.asg) + (1 - usage.asgShare) * pick(usage.standalone);
}

/** Step Functions API calls among the counted calls (task success, heartbeat): billed at nothing. */
function stepFunctionsCalls(calls: Readonly<Record<string, number>>): number {
  return Object.entries(calls)
    .filter(([operation]) => operation.startsWith('SFN.'))
    .reduce((sum, [, count]) => sum + count, 0);
}

function dynamodbUnits(calls: Readonly<Record<string, number>>): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const [operation, count] of Object.entries(calls)) {
    if (!operation.startsWith('DynamoDB.')) continue;
    const units = DYNAMODB_UNITS[operation];
    if (units === undefined) throw new Error(`cost model: no request units stated for ${operation}`);
    read += (units.read ?? 0) * count;
    write += (units.write ?? 0) * count;
  }
  return { read, write };
}

/** The month's usage-driven charges for the workload (fixed charges apart: {@link fixedMonthlyCost}). */
export function monthlyCost(workload: Workload, usage: UsageProfile): MonthlyCost {
  const n = workload.instances;
  const handDrifted = n * workload.handDriftShare;
  const rolled = n * workload.rollsPerMonth;
  const replaced = handDrifted + rolled;
  const sweeps = HOURS_PER_MONTH / workload.sweepPeriodHours;
  // A sweep lands mid-roll with this chance and then finds, on average, half the fleet still
  // drifted: it records their NON_COMPLIANT (the ledger saw them compliant before).
  const sweptMidRoll = Math.min(1, usage.roll.hours / workload.sweepPeriodHours) / 2;
  const roll = usage.roll;

  const evaluations =
    handDrifted * 3 + rolled * (2 + sweptMidRoll) + (workload.reportEverything ? sweeps * n : 0);
  const transitions = replaced * weighted(usage, (r) => r.transitions) + rolled * roll.extraTransitions;
  const stepsInvocations =
    replaced * weighted(usage, (r) => r.lambdaInvocations) + rolled * roll.extraInvocations;
  const evaluatorEvents =
    handDrifted * EVALUATOR_EVENTS.handDrift +
    rolled * EVALUATOR_EVENTS.rolledInstance +
    workload.rollsPerMonth * EVALUATOR_EVENTS.perRoll;
  const evaluatorInvocations = evaluatorEvents + sweeps;
  const sweeperPasses = SWEEPER_PASSES_PER_MONTH;
  const gbSeconds =
    (stepsInvocations * usage.stepsMsPerInvocation * usage.stepsMemoryMb +
      (evaluatorEvents * usage.evaluatorMsPerEvent + sweeps * n * usage.evaluatorMsPerSweptInstance) *
        usage.evaluatorMemoryMb +
      sweeperPasses * usage.sweeperMsPerPass * usage.sweeperMemoryMb) /
    1000 /
    1024;
  const asgUnits = dynamodbUnits(usage.asg.apiCalls);
  const standaloneUnits = dynamodbUnits(usage.standalone.apiCalls);
  const queueUnits = dynamodbUnits(roll.extraQueueCalls);
  const perReplacement = {
    read: usage.asgShare * asgUnits.read + (1 - usage.asgShare) * standaloneUnits.read,
    write: usage.asgShare * asgUnits.write + (1 - usage.asgShare) * standaloneUnits.write,
  };
  // The ledger: one batch read of its shards per sweep (32 items of ~40 bytes per instance,
  // strongly consistent), and the shards a sweep changed written back (at most all of them).
  const ledgerReadUnits = sweeps * Math.max(32, Math.ceil((n * 40) / 4096) * 2);
  // The sweeper: per pass, each fleet's leases and each of its AZ queues (one unit each);
  // during a roll, every parked waiter read to find the ones to heartbeat.
  const sweeperReadUnits =
    sweeperPasses * workload.fleets * (1 + workload.azs) +
    Math.ceil((rolled * roll.sweeperWaiterReads * WAITER_ITEM_BYTES) / 4096);
  const readUnits =
    replaced * perReplacement.read +
    rolled * queueUnits.read +
    evaluatorEvents * EVALUATOR_DYNAMODB.read +
    ledgerReadUnits +
    sweeperReadUnits;
  const writeUnits =
    replaced * perReplacement.write +
    rolled * (queueUnits.write + roll.heartbeats) +
    evaluatorEvents * EVALUATOR_DYNAMODB.write;
  const stepFunctionsApi =
    replaced * weighted(usage, (r) => stepFunctionsCalls(r.apiCalls)) +
    rolled * (stepFunctionsCalls(roll.extraQueueCalls) + roll.heartbeats);
  const notifications =
    handDrifted * usage.notificationsPerHandDrift +
    rolled * usage.notificationsPerRolledInstance +
    workload.rollsPerMonth * usage.notificationsPerRoll;
  const logGb =
    (replaced * weighted(usage, (r) => r.historyEvents) * LOG_BYTES.historyEvent +
      rolled * roll.extraTransitions * 2 * LOG_BYTES.historyEvent +
      (stepsInvocations + evaluatorInvocations + sweeperPasses) * LOG_BYTES.invocation +
      sweeps * n * LOG_BYTES.sweptInstance) /
    1024 ** 3;
  const executions = replaced;

  const lines = [
    tieredLine(CONFIG_LINE, evaluations, PRICES.configRuleEvaluation),
    line('Step Functions state transitions', transitions, PRICES.stateTransition),
    line('Step Functions API calls (task success, heartbeat)', stepFunctionsApi, PRICES.stepFunctionsApiCall),
    line('Lambda requests', stepsInvocations + evaluatorInvocations + sweeperPasses, PRICES.lambdaRequest),
    line('Lambda duration', gbSeconds, PRICES.lambdaGbSecondArm),
    line('DynamoDB writes', writeUnits, PRICES.dynamodbWriteUnit),
    line('DynamoDB reads', readUnits, PRICES.dynamodbReadUnit),
    line('SNS publishes', notifications, PRICES.snsPublish),
    line('KMS requests (the topic key)', notifications, PRICES.kmsRequest),
    line('CloudWatch Logs ingested', logGb, PRICES.logsIngestedGb),
    line('X-Ray traces', executions + evaluatorInvocations + sweeperPasses, PRICES.xrayTrace),
    line(SWEEPER_SCHEDULE_LINE, sweeperPasses, PRICES.schedulerInvocation),
  ];
  return { usd: lines.reduce((sum, l) => sum + l.usd, 0), lines };
}

/** What the stack costs a month whatever the fleet: the topic's key, alarms, custom metrics. */
export function fixedMonthlyCost(stack: { alarms: number; customMetrics: number }): MonthlyCost {
  const lines = [
    line('KMS key (the topic)', 1, PRICES.kmsKeyMonth),
    line('CloudWatch alarms', stack.alarms, PRICES.alarmMonth),
    line('Custom metrics', stack.customMetrics, PRICES.customMetricMonth),
  ];
  return { usd: lines.reduce((sum, l) => sum + l.usd, 0), lines };
}
