/**
 * Benchmark 6, the cost model: Phoenix's monthly AWS charges for 1,000 and 10,000 instances
 * (1 % drifted by hand, one full image roll with the lease queue, the sweep every twelve
 * hours, the queue's sweeper every five minutes), from what the remediation, convergence and
 * sweep benchmarks counted in this run and the price table (lib/prices.ts, each price citing
 * its page). Beside it, the same month with the sweep reporting every instance every time
 * (Phoenix before the compliance ledger). Budget: $2 a month per 1,000 instances of
 * usage-driven charges; fixed charges reported apart.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CompiledDesiredState } from '../functions/domain/model';
import { METRIC } from '../functions/evaluate-drift/core';
import { PhoenixMetric } from '../functions/runtime/metric-names';
import { DriftRemediator } from '../infra/drift-remediator';
import {
  CONFIG_LINE,
  type CostLine,
  fixedMonthlyCost,
  type MonthlyCost,
  monthlyCost,
  type ReplacementUsage,
  type RollUsage,
  type UsageProfile,
} from './lib/cost-model';
import { PRICES_REGION, PRICES_RETRIEVED } from './lib/prices';
import type { Progress } from './lib/progress';
import type { BenchResult } from './lib/results';

export const COST_FLEET_SIZES = [1_000, 10_000] as const;
/**
 * The budget: usage-driven charges per 1,000 instances a month beyond the evaluations AWS
 * Config must record for every replacement (see {@link evaluationFloorUsd}).
 */
export const USD_PER_THOUSAND_BUDGET = 2;

/** What the cost model takes from the other benchmarks of this run. */
export interface CostInputs {
  asg: ReplacementUsage;
  standalone: ReplacementUsage;
  /** The evaluator's milliseconds per swept instance (the sweep benchmark), or a stated figure. */
  evaluatorMsPerSweptInstance: number;
  /** Each fleet size's full roll with the lease queue, per rolled instance (the convergence model). */
  rolls: Readonly<Record<number, RollUsage>>;
  desiredState: CompiledDesiredState;
}

/**
 * Stated, not measured: a steps-Lambda invocation bills about 150 ms (its AWS calls included;
 * the benchmark's CPU per remediation is a fraction of that), an evaluator event about
 * 300 ms, a pass of the queue's sweeper about 200 ms (a few Queries, rarely a heartbeat); a
 * fleet holds 100 instances on average, over three Availability Zones.
 */
const STATED = {
  stepsMsPerInvocation: 150,
  evaluatorMsPerEvent: 300,
  stepsMemoryMb: 256,
  evaluatorMemoryMb: 512,
  sweeperMsPerPass: 200,
  sweeperMemoryMb: 256,
  asgShare: 0.8,
  instancesPerFleet: 100,
  azs: 3,
} as const;

/**
 * The evaluations no sweep design can save, per replaced instance: the replacement's first
 * COMPLIANT and the old instance's NOT_APPLICABLE when it is deleted (AWS Config's guidance for
 * custom rules, "Managing Deleted Resources"), at the first tier's price. For one full roll of
 * 1,000 instances this alone is $2.00: the issue's $2 budget on the whole bill cannot be met at
 * AWS's list price, so the budget applies to everything above this floor (ADR).
 */
export function evaluationFloorUsd(cost: MonthlyCost, replaced: number): number {
  const config = cost.lines.find((l) => l.item === CONFIG_LINE);
  if (config === undefined || config.quantity === 0) return 0;
  return (config.usd / config.quantity) * 2 * replaced;
}

/** Notifications as Phoenix sends them now: per instance drifted by hand, per instance of a roll, per roll. */
const NOTIFICATIONS = { perHandDrift: 3, perRolledInstance: 3, perRoll: 0 } as const;

function usageFor(inputs: CostInputs, n: number): UsageProfile {
  const roll = inputs.rolls[n];
  if (roll === undefined) throw new Error(`cost model: the convergence model did not roll ${n} instances`);
  return {
    asg: inputs.asg,
    standalone: inputs.standalone,
    asgShare: STATED.asgShare,
    stepsMsPerInvocation: STATED.stepsMsPerInvocation,
    stepsMemoryMb: STATED.stepsMemoryMb,
    evaluatorMsPerEvent: STATED.evaluatorMsPerEvent,
    evaluatorMsPerSweptInstance: inputs.evaluatorMsPerSweptInstance,
    evaluatorMemoryMb: STATED.evaluatorMemoryMb,
    notificationsPerHandDrift: NOTIFICATIONS.perHandDrift,
    notificationsPerRolledInstance: NOTIFICATIONS.perRolledInstance,
    notificationsPerRoll: NOTIFICATIONS.perRoll,
    roll,
    sweeperMsPerPass: STATED.sweeperMsPerPass,
    sweeperMemoryMb: STATED.sweeperMemoryMb,
  };
}

/** The stack's alarms and custom metrics, counted from a synthesized template and the metric names. */
function fixedCounts(desiredState: CompiledDesiredState): { alarms: number; customMetrics: number } {
  const app = new App();
  const stack = new Stack(app, 'PhoenixCost', { env: { account: '123456789012', region: PRICES_REGION } });
  new DriftRemediator(stack, 'Phoenix', { desiredState });
  const alarms = Object.keys(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).length;
  // Each name is one metric per `service` dimension: the evaluator's, and the steps' own.
  const evaluator = new Set(Object.values(METRIC)).size;
  const steps = [
    PhoenixMetric.RemediationStarted,
    PhoenixMetric.RemediationSucceeded,
    PhoenixMetric.RemediationFailed,
    PhoenixMetric.RemediationBlocked,
    PhoenixMetric.RemediationDurationSeconds,
  ].length;
  return { alarms, customMetrics: evaluator + steps };
}

function bill(cost: MonthlyCost): string {
  const shown = [...cost.lines].sort((a, b) => b.usd - a.usd).filter((l: CostLine) => l.usd >= 0.005);
  return shown.map((l) => `${l.item} $${l.usd.toFixed(2)}`).join(', ');
}

export function costBench(options: { inputs: CostInputs; progress: Progress }): {
  results: BenchResult[];
  notes: string[];
} {
  const { inputs, progress } = options;
  progress.say('cost: the monthly AWS charges of running Phoenix, from the counts of this run');
  const results: BenchResult[] = [];
  const notes: string[] = [
    `list prices of ${PRICES_REGION} read ${PRICES_RETRIEVED} (bench/lib/prices.ts cites each page); no free tiers; the account's Config recorder apart`,
    `a month: 1% of instances drifted by hand, one full image roll (maxConcurrent 10%, the lease queue, as the convergence model ran it), the sweep every 12 hours, ` +
      `the queue's sweeper every 5 minutes; ${STATED.asgShare * 100}% of instances in Auto Scaling groups, ${STATED.instancesPerFleet} instances a fleet, ${STATED.azs} AZs`,
  ];
  for (const n of COST_FLEET_SIZES) {
    const workload = {
      instances: n,
      handDriftShare: 0.01,
      rollsPerMonth: 1,
      sweepPeriodHours: 12,
      fleets: Math.max(1, Math.ceil(n / STATED.instancesPerFleet)),
      azs: STATED.azs,
    };
    const usage = usageFor(inputs, n);
    const ledger = monthlyCost({ ...workload, reportEverything: false }, usage);
    const everything = monthlyCost({ ...workload, reportEverything: true }, usage);
    const replaced = n * workload.handDriftShare + n * workload.rollsPerMonth;
    const floor = evaluationFloorUsd(ledger, replaced);
    results.push(
      {
        name: `cost.n${n}.monthly-usd`,
        value: Math.round(ledger.usd * 100) / 100,
        unit: 'USD',
        budget: null,
      },
      {
        name: `cost.n${n}.above-evaluation-floor.monthly-usd`,
        value: Math.round((ledger.usd - floor) * 100) / 100,
        unit: 'USD',
        budget: (USD_PER_THOUSAND_BUDGET * n) / 1000,
      },
      {
        name: `cost.n${n}.report-everything.monthly-usd`,
        value: Math.round(everything.usd * 100) / 100,
        unit: 'USD',
        budget: null,
      },
    );
    notes.push(
      `${n.toLocaleString('en-US')} instances: $${ledger.usd.toFixed(2)} a month (${bill(ledger)}); reporting every instance every sweep: $${everything.usd.toFixed(2)}`,
      `  of which $${floor.toFixed(2)} is the floor of two Config evaluations per replaced instance (${replaced.toLocaleString('en-US')} replaced); above it: $${(ledger.usd - floor).toFixed(2)}`,
    );
  }
  const fixed = fixedMonthlyCost(fixedCounts(inputs.desiredState));
  results.push({
    name: 'cost.fixed.monthly-usd',
    value: Math.round(fixed.usd * 100) / 100,
    unit: 'USD',
    budget: null,
  });
  notes.push(`fixed, whatever the fleet: $${fixed.usd.toFixed(2)} a month (${bill(fixed)})`);
  return { results, notes };
}
