import { describe, expect, it } from 'vitest';
import {
  CONFIG_LINE,
  fixedMonthlyCost,
  monthlyCost,
  type ReplacementUsage,
  type RollUsage,
  SWEEPER_PASSES_PER_MONTH,
  SWEEPER_SCHEDULE_LINE,
  type UsageProfile,
} from '../../bench/lib/cost-model';
import { PRICES, tieredCost } from '../../bench/lib/prices';

const replacement: ReplacementUsage = {
  transitions: 20,
  lambdaInvocations: 10,
  apiCalls: { 'DynamoDB.TransactWriteItems': 2, 'DynamoDB.GetItem': 3, 'EC2.RunInstances': 1 },
  historyEvents: 40,
};

const usage: UsageProfile = {
  asg: replacement,
  standalone: { ...replacement, transitions: 10 },
  asgShare: 0.5,
  stepsMsPerInvocation: 100,
  stepsMemoryMb: 256,
  evaluatorMsPerEvent: 300,
  evaluatorMsPerSweptInstance: 5,
  evaluatorMemoryMb: 512,
  notificationsPerHandDrift: 3,
  notificationsPerRolledInstance: 3,
  notificationsPerRoll: 0,
  roll: {
    hours: 6,
    extraTransitions: 0,
    extraInvocations: 0,
    extraQueueCalls: {},
    heartbeats: 0,
    sweeperWaiterReads: 0,
  },
  sweeperMsPerPass: 200,
  sweeperMemoryMb: 256,
};

const workload = {
  instances: 1000,
  handDriftShare: 0.01,
  rollsPerMonth: 1,
  sweepPeriodHours: 12,
  fleets: 10,
  azs: 3,
};

function lineOf(cost: ReturnType<typeof monthlyCost>, item: string) {
  const found = cost.lines.find((l) => l.item === item);
  if (found === undefined) throw new Error(`no line ${item}`);
  return found;
}

describe('monthlyCost', () => {
  it('records three evaluations per hand drift, two per rolled instance and the mid-roll sweep share', () => {
    const cost = monthlyCost({ ...workload, reportEverything: false }, usage);
    // 10 hand-drifted × 3 + 1,000 rolled × (2 + (6 h / 12 h) / 2)
    expect(lineOf(cost, CONFIG_LINE).quantity).toBe(30 + 1000 * 2.25);
  });

  it('reporting everything adds every instance of every sweep', () => {
    const ledger = monthlyCost({ ...workload, reportEverything: false }, usage);
    const everything = monthlyCost({ ...workload, reportEverything: true }, usage);
    const sweeps = 730 / 12;
    expect(lineOf(everything, CONFIG_LINE).quantity - lineOf(ledger, CONFIG_LINE).quantity).toBeCloseTo(
      sweeps * 1000,
      6,
    );
    expect(everything.usd).toBeGreaterThan(ledger.usd);
  });

  it('weighs transitions by the share of Auto Scaling members', () => {
    const cost = monthlyCost({ ...workload, reportEverything: false }, usage);
    // 1,010 replacements × (0.5 × 20 + 0.5 × 10)
    expect(lineOf(cost, 'Step Functions state transitions').quantity).toBe(1010 * 15);
    expect(lineOf(cost, 'Step Functions state transitions').usd).toBeCloseTo(
      1010 * 15 * PRICES.stateTransition.usd,
      9,
    );
  });

  it('sums to its lines', () => {
    const cost = monthlyCost({ ...workload, reportEverything: true }, usage);
    expect(cost.usd).toBeCloseTo(
      cost.lines.reduce((sum, l) => sum + l.usd, 0),
      9,
    );
  });

  it('refuses a DynamoDB call it has no request units for', () => {
    const odd = { ...replacement, apiCalls: { 'DynamoDB.Scan': 1 } };
    expect(() => monthlyCost({ ...workload, reportEverything: false }, { ...usage, asg: odd })).toThrow(
      /no request units stated for DynamoDB.Scan/,
    );
  });
});

describe('monthlyCost with the lease queue', () => {
  const queued = (roll: Partial<RollUsage>) =>
    monthlyCost({ ...workload, reportEverything: false }, { ...usage, roll: { ...usage.roll, ...roll } });
  const base = queued({});

  it('charges no transition for waiting, and the health-check rounds of launches that waited for tokens', () => {
    expect(
      lineOf(queued({ heartbeats: 3, sweeperWaiterReads: 50 }), 'Step Functions state transitions').quantity,
    ).toBe(lineOf(base, 'Step Functions state transitions').quantity);
    expect(
      lineOf(queued({ extraTransitions: 10 }), 'Step Functions state transitions').quantity -
        lineOf(base, 'Step Functions state transitions').quantity,
    ).toBe(1000 * 10);
  });

  it('charges each retry (RetireOld waiting for its group lock) as a Lambda request', () => {
    const retried = queued({ extraTransitions: 4, extraInvocations: 4 });
    expect(
      lineOf(retried, 'Lambda requests').quantity - lineOf(base, 'Lambda requests').quantity,
    ).toBeCloseTo(1000 * 4, 6);
    expect(lineOf(retried, 'Lambda duration').usd).toBeGreaterThan(lineOf(base, 'Lambda duration').usd);
  });

  it("leaves the granter's EC2 and Auto Scaling reads unbilled", () => {
    const cost = queued({
      extraQueueCalls: { 'EC2.DescribeInstances': 3, 'AutoScaling.DescribeAutoScalingGroups': 3 },
    });
    expect(cost.usd).toBeCloseTo(base.usd, 9);
  });

  it("charges the queue's parks, reads and grants as DynamoDB units and each heartbeat's record as a write", () => {
    const cost = queued({
      extraQueueCalls: {
        'DynamoDB.PutItem': 0.9,
        'DynamoDB.Query': 2.5,
        'DynamoDB.TransactWriteItems': 0.9,
      },
      heartbeats: 0.5,
    });
    // Per rolled instance: 0.9 × 1 + 0.9 × 8 (a transaction) + 0.5 writes; 2.5 reads.
    expect(lineOf(cost, 'DynamoDB writes').quantity - lineOf(base, 'DynamoDB writes').quantity).toBeCloseTo(
      1000 * (0.9 + 7.2 + 0.5),
      6,
    );
    expect(lineOf(cost, 'DynamoDB reads').quantity - lineOf(base, 'DynamoDB reads').quantity).toBeCloseTo(
      1000 * 2.5,
      6,
    );
  });

  it('counts task successes and heartbeats as Step Functions API calls, billed at nothing', () => {
    const cost = queued({ extraQueueCalls: { 'SFN.SendTaskSuccess': 0.4 }, heartbeats: 0.5 });
    const api = lineOf(cost, 'Step Functions API calls (task success, heartbeat)');
    expect(api.quantity).toBeCloseTo(1000 * 0.9, 6);
    expect(api.usd).toBe(0);
    expect(api.source).toBe('https://aws.amazon.com/step-functions/pricing/');
  });

  it("runs the sweeper 8,760 times a month, reading each fleet's leases and its AZ queues every time", () => {
    expect(SWEEPER_PASSES_PER_MONTH).toBe(8760);
    expect(lineOf(base, SWEEPER_SCHEDULE_LINE).quantity).toBe(8760);
    const fewer = monthlyCost({ ...workload, fleets: 1, reportEverything: false }, usage);
    expect(lineOf(base, 'DynamoDB reads').quantity - lineOf(fewer, 'DynamoDB reads').quantity).toBe(
      8760 * (10 - 1) * (1 + 3),
    );
  });
});

describe('tieredCost', () => {
  it('charges each tier its own price', () => {
    const price = PRICES.configRuleEvaluation;
    expect(tieredCost(price, 100_000)).toBeCloseTo(100, 9);
    expect(tieredCost(price, 150_000)).toBeCloseTo(100 + 50_000 * 0.0008, 9);
  });
});

describe('fixedMonthlyCost', () => {
  it('counts the key, each alarm and each custom metric', () => {
    const cost = fixedMonthlyCost({ alarms: 2, customMetrics: 3 });
    expect(cost.usd).toBeCloseTo(
      PRICES.kmsKeyMonth.usd + 2 * PRICES.alarmMonth.usd + 3 * PRICES.customMetricMonth.usd,
      9,
    );
  });
});
