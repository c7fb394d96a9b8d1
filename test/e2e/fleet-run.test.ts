/**
 * A fleet rollout at scale, for real (issue 14): an Auto Scaling group and a tag fleet of
 * standalone instances, both across two Availability Zones, every member drifted by its
 * launch template's new default version, reconciled by `phoenix reconcile`'s engine under
 * `maxConcurrent: 25%` and `minHealthyPercent: 100`, while a sampler looks at the account
 * every 100 ms. The same scenario as `npm run bench -- --only fleet-run`
 * (bench/lib/fleet-run-scenario.ts), smaller (16 + 8 instances), every call decided by IAM;
 * judged by the same checker (bench/lib/fleet-run-check.ts, whose every rule is proved on
 * synthetic runs in test/bench/fleet-run-check.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkFleetRun,
  describeFinding,
  type FleetRunVerdict,
  findingsOf,
} from '../../bench/lib/fleet-run-check';
import { type FleetRunOutcome, runFleetScenario } from '../../bench/lib/fleet-run-scenario';
import { emulatorEndpoint, TEST_REGION, testClients } from '../helpers/emulator';
import { iamGate } from '../helpers/iam/gate';
import { E2E_TIMINGS } from './harness';

const GROUP_SIZE = 16;
const STANDALONE_SIZE = 8;
/** 25 % of each fleet, rounded down. */
const BUDGET = { web: 4, api: 2 } as const;

describe('end to end: a fleet rollout under maxConcurrent 25% and minHealthyPercent 100 (an Auto Scaling group of 16 and 8 standalone instances, all drifted, across two zones)', () => {
  let outcome: FleetRunOutcome;
  let verdict: FleetRunVerdict;
  const lines = (invariant: Parameters<typeof findingsOf>[1]) =>
    findingsOf(verdict.findings, invariant).map(describeFinding);

  beforeAll(async () => {
    const endpoint = emulatorEndpoint();
    outcome = await runFleetScenario({
      endpoint,
      prefix: 'e2e-fleet',
      groupSize: GROUP_SIZE,
      standaloneSize: STANDALONE_SIZE,
      maxConcurrent: '25%',
      minHealthyPercent: 100,
      launchBatches: 2,
      sampleEveryMs: 100,
      hooks: ({ desiredState, tableName, topicArn }) => {
        const ready = iamGate({
          desiredState,
          names: { region: TEST_REGION, tableName, topicArn },
          clients: testClients(endpoint),
        });
        return { gate: async (call) => (await ready)(call), timings: E2E_TIMINGS };
      },
    });
    verdict = checkFleetRun(outcome.observation, 'queue');
    (await import('node:fs')).writeFileSync('/tmp/obs.json', JSON.stringify(outcome.observation));
  }, 240_000);

  it('seeds what the issue asks: every member drifted, each fleet across two zones, launch times that differ', () => {
    const [web, api] = outcome.observation.fleets;
    expect(web?.originals).toHaveLength(GROUP_SIZE);
    expect(api?.originals).toHaveLength(STANDALONE_SIZE);
    for (const fleet of [web, api]) {
      expect(new Set(fleet?.originals.map((o) => o.az)).size).toBe(2);
      // Two batches a second apart (a batch's launches may straddle a second themselves).
      expect(new Set(fleet?.originals.map((o) => o.launchTime)).size).toBeGreaterThanOrEqual(2);
    }
    expect(outcome.observation.fleets.map((f) => f.budget)).toEqual([BUDGET.web, BUDGET.api]);
  });

  it('replaces every drifted instance exactly once: one replacement each, none replaced again, no other launch, none left drifted', () => {
    expect(lines('replaced-once')).toEqual([]);
    expect(verdict.figures.replaced).toBe(GROUP_SIZE + STANDALONE_SIZE);
    expect(outcome.observation.launched).toHaveLength(GROUP_SIZE + STANDALONE_SIZE);
    expect(outcome.observation.finalMembers).toHaveLength(GROUP_SIZE + STANDALONE_SIZE);
  });

  it('never has fewer healthy (or serving) members than the fleet size at any sample', () => {
    expect(lines('healthy-capacity')).toEqual([]);
    // Sampled while it ran, not just before and after.
    for (const fleet of ['web', 'api'])
      expect(outcome.observation.samples.filter((s) => s.fleet === fleet).length).toBeGreaterThan(10);
    expect(verdict.figures.minHealthyPercent).toEqual({ web: 100, api: 100 });
  });

  it('never has more leases or replacements on the account than 25 % of a fleet at any sample', () => {
    expect(lines('budget')).toEqual([]);
    expect(verdict.figures.maxInFlight.web).toBeGreaterThanOrEqual(1);
    expect(verdict.figures.maxInFlight.api).toBeGreaterThanOrEqual(1);
  });

  it('ends no execution failed, rolled back, blocked, in error or asking for a human, and the run reports no error', () => {
    // A waiter never gives up because its fleet (or its group's lock) is busy: it waits in the
    // fleet's queue (docs/adr/0032-a-queue-not-a-poll.md).
    expect(lines('execution-ended')).toEqual([]);
    expect(verdict.figures.blocked).toBe(0);
  });

  // The queue serves its waiters in this order (test/remediation/queue.int.test.ts proves the
  // granter's order, five admissions at once included): a newcomer never takes a slot ahead of
  // waiters, and one admission at a time serves a fleet, each reading the counts the last left.
  // Both fleets' executions wait in their queues: `phoenix reconcile` caps its own executions
  // of a fleet only when a rollout counts them, so the order of each is the queue's to judge.
  it('serves waiters oldest launch time first within a zone, and the zone with the fewest replacements in flight first', () => {
    expect(lines('order')).toEqual([]);
    for (const fleet of ['web', 'api'])
      expect(
        outcome.observation.grants.filter((g) => g.fleet === fleet && g.queue !== undefined).length,
      ).toBeGreaterThan(0);
  });
});
