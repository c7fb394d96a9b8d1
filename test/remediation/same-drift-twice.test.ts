/**
 * Two executions of one drift at once: the same input under the same name, as two local runs
 * start them (two `phoenix reconcile`, or one beside the deployed stack sharing its table).
 * Step Functions refuses a name twice; locally nothing does, so the state table must: one
 * replacement per instance (docs/adr/0021-one-replacement-per-instance.md).
 *
 * Each test interleaves the two deterministically: the second runs inside the first's
 * `afterState` hook (the first is paused there), or the first inside the second's.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { RemediationStore } from '../../functions/aws/remediation-store';
import { type RunResult, runRemediation } from '../../functions/local/step-functions/runner';
import type { RemediationInput } from '../../functions/remediation/input';
import {
  describeGroup,
  desiredState,
  seedDriftedAsgFleet,
  seedDriftedStandaloneFleet,
  type TestAccount,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
    team: api
`);

/** Every instance the account ever launched (terminated ones stay listed). */
async function everyInstance(account: TestAccount): Promise<string[]> {
  const page = await account.clients.ec2.send(new DescribeInstancesCommand({}));
  return (page.Reservations ?? []).flatMap((r) => (r.Instances ?? []).flatMap((i) => i.InstanceId ?? []));
}

function outputOf(result: RunResult) {
  return result.output as {
    outcome: string;
    reason: string;
    detail: string;
    replacementId?: string;
    nextAttempt?: number;
  };
}

describe('two executions of one drift at once (same name, two holders)', () => {
  let account: TestAccount;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  let api: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;
  let store: RemediationStore;

  beforeAll(async () => {
    account = await testAccount();
    web = await seedDriftedAsgFleet(account.clients, { name: 'web', desired: 5, max: 10 });
    api = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 3 });
    store = new RemediationStore(account.clients.dynamodb, account.tableName, account.now);
  });

  /**
   * Runs `first`; when it has finished the state `pauseAt`, runs `second` to its end before
   * letting the first go on. Returns both results and the instances launched meanwhile.
   */
  async function secondDuringFirst(input: RemediationInput, pauseAt: string) {
    const before = await everyInstance(account);
    let second: RunResult | undefined;
    const first = await account.remediate(input, STATE, {
      hooks: {
        afterState: async ({ state }) => {
          if (state === pauseAt && second === undefined) second = await account.remediate(input, STATE);
        },
      },
    });
    if (second === undefined) throw new Error(`the first execution never reached ${pauseAt}`);
    const launched = (await everyInstance(account)).filter((id) => !before.includes(id));
    return { first, second, launched };
  }

  /**
   * Runs `second` up to its lease: when it has planned, runs `first` until `first` has
   * finished `firstUntil` (or to its end), lets `second` take its lease, and then lets `first`
   * finish.
   */
  async function firstBetweenSecondsPlanAndLease(input: RemediationInput, firstUntil?: string) {
    const before = await everyInstance(account);
    let reached: () => void = () => {};
    const firstReached = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let secondDone: () => void = () => {};
    const secondEnded = new Promise<void>((resolve) => {
      secondDone = resolve;
    });
    let first: Promise<RunResult> | undefined;
    const second = await account.remediate(input, STATE, {
      hooks: {
        afterState: async ({ state }) => {
          if (state !== 'PlanReplacement' || first !== undefined) return;
          first = account.remediate(input, STATE, {
            hooks: {
              afterState: async (event) => {
                if (event.state !== firstUntil) return;
                reached();
                await secondEnded;
              },
            },
          });
          if (firstUntil === undefined) await first;
          else await firstReached;
        },
      },
    });
    secondDone();
    if (first === undefined) throw new Error('the second execution never planned');
    const firstResult = await first;
    const launched = (await everyInstance(account)).filter((id) => !before.includes(id));
    return { first: firstResult, second, launched };
  }

  it('Auto Scaling: the second, rechecking while the first replaces the instance, ends skipped (in-flight-elsewhere) and changes nothing', async () => {
    const [old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);

    const { first, second, launched } = await secondDuringFirst(input, 'AcquireLease');

    expect(second.executionArn).not.toBe(first.executionArn);
    expect(second.executionArn.split(':').at(-1)).toBe(first.executionArn.split(':').at(-1));
    expect(outputOf(first)).toMatchObject({ outcome: 'succeeded', reason: 'replaced' });
    expect(outputOf(second)).toMatchObject({
      outcome: 'skipped',
      reason: 'in-flight-elsewhere',
      detail: expect.stringContaining(`is being replaced by execution ${first.executionArn}`),
      // Nothing was replaced by it: its drift may be tried again, under the next attempt.
      nextAttempt: 1,
    });
    expect(second.events.some((e) => e.state === 'AcquireLease')).toBe(false);
    expect(launched).toEqual([outputOf(first).replacementId]);
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(5);
    // The team hears of the replacement once.
    expect((await account.notifications()).map((n) => n.event)).toEqual([
      'remediation.started',
      'remediation.succeeded',
    ]);
  });

  it('Auto Scaling: the second, past its recheck when the first takes the lease, is refused at its lease: skipped (in-flight-elsewhere), at once, holding nothing', async () => {
    const [, old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);

    const { first, second, launched } = await firstBetweenSecondsPlanAndLease(input, 'AcquireLease');

    expect(outputOf(second)).toMatchObject({
      outcome: 'skipped',
      reason: 'in-flight-elsewhere',
      detail: expect.stringContaining(`is being replaced by execution ${first.executionArn}`),
    });
    // Once, not retried like a denied lease.
    const leaseEvents = second.events.filter((e) => e.state === 'AcquireLease');
    expect(leaseEvents.filter((e) => e.type === 'StateFailed' || e.type === 'StateRetried')).toEqual([
      expect.objectContaining({ type: 'StateFailed', error: 'ReplacingElsewhereError' }),
    ]);
    expect(outputOf(first)).toMatchObject({ outcome: 'succeeded' });
    expect(launched).toEqual([outputOf(first).replacementId]);
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(5);
    expect(await store.listLeases('web')).toEqual([]);
    expect(await store.getGroupLock('web-asg')).toBeUndefined();
    await account.notifications();
  });

  it('Auto Scaling: the second, reaching its lease after the first replaced the instance, is refused there: skipped (already-replaced)', async () => {
    const [, , old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);

    const { first, second, launched } = await firstBetweenSecondsPlanAndLease(input);

    expect(outputOf(first)).toMatchObject({ outcome: 'succeeded' });
    const replacementId = outputOf(first).replacementId;
    expect(outputOf(second)).toMatchObject({
      outcome: 'skipped',
      reason: 'already-replaced',
      detail: expect.stringContaining(`was already replaced by ${replacementId}`),
    });
    // Replaced for good: the drift's attempt stays, its name keeps refusing it.
    expect(outputOf(second).nextAttempt).toBeUndefined();
    expect(launched).toEqual([replacementId]);
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(5);
    expect((await account.notifications()).map((n) => n.event)).toEqual([
      'remediation.started',
      'remediation.succeeded',
    ]);
  });

  // Found by the two-process end-to-end test: the second read the claim first (none yet),
  // then the instance (running), then the group after the first had replaced the instance
  // (no longer InService there), and its plan asked for manual action. The claim is read
  // last now: whoever claims the instance before that reading shows, whoever claims it after
  // touched nothing the second read.
  it('Auto Scaling: the second, whose recheck reads the group after the first replaced the instance, ends skipped (already-replaced), not asking for manual action', async () => {
    const [, , , old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);
    const before = await everyInstance(account);
    let first: RunResult | undefined;
    // The second's clients: its first group reading waits until the first execution has ended.
    const autoScaling = account.local.autoScaling;
    const slowed = {
      send: async (command: unknown) => {
        if (first === undefined && command instanceof DescribeAutoScalingGroupsCommand)
          first = await account.remediate(input, STATE);
        return autoScaling.send(command as never);
      },
    } as typeof autoScaling;

    const second = await runRemediation(input, {
      clients: { ...account.local, autoScaling: slowed },
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    if (first === undefined) throw new Error('the second execution never read the group');
    expect(outputOf(first)).toMatchObject({ outcome: 'succeeded' });
    expect(outputOf(second)).toMatchObject({
      outcome: 'skipped',
      reason: 'already-replaced',
      detail: expect.stringContaining(`was already replaced by ${outputOf(first).replacementId}`),
    });
    const launched = (await everyInstance(account)).filter((id) => !before.includes(id));
    expect(launched).toEqual([outputOf(first).replacementId]);
    expect((await account.notifications()).map((n) => n.event)).toEqual([
      'remediation.started',
      'remediation.succeeded',
    ]);
  });

  it('standalone: the second, past its recheck when the first takes the lease, is refused at its lease; one instance is launched', async () => {
    const [old = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, old);

    const { first, second, launched } = await firstBetweenSecondsPlanAndLease(input, 'AcquireLease');

    expect(outputOf(first)).toMatchObject({ outcome: 'succeeded' });
    expect(outputOf(second)).toMatchObject({ outcome: 'skipped', reason: 'in-flight-elsewhere' });
    expect(launched).toEqual([outputOf(first).replacementId]);
    expect(await store.listLeases('api')).toEqual([]);
    await account.notifications();
  });

  it('an instance another execution replaced, still running while it leaves (its group drains it on AWS), is skipped at the recheck: already-replaced, nothing taken', async () => {
    const [, , old = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, old);
    // moto terminates at once what AWS drains first: the other execution's record stands for it.
    const other = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance/local-other:x';
    expect(await store.settleInstanceClaim(old, other, 'i-0123456789abcdef0')).toBe(true);

    const result = await account.remediate(input, STATE);

    expect(outputOf(result)).toMatchObject({
      outcome: 'skipped',
      reason: 'already-replaced',
      detail: expect.stringContaining(`was already replaced by i-0123456789abcdef0 (execution ${other}, at `),
    });
    expect(outputOf(result).nextAttempt).toBeUndefined();
    expect(result.events.some((e) => e.state === 'AcquireLease')).toBe(false);
    expect(await account.notifications()).toEqual([]);
  });

  it('standalone: the claim goes with a remediation that replaced nothing, and the next execution replaces the instance', async () => {
    const [, old = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, old);
    // The first's replacement never becomes healthy: it rolls back, giving the instance back.
    const failing = await account.remediate(input, STATE, {
      hooks: {
        faults: { impaired: 'replacement' },
      },
    });
    expect(failing).toMatchObject({ status: 'FAILED', error: 'ReplacementUnhealthyError' });
    await store.liftQuarantine('api', input.launchTemplate.id, input.launchTemplate.version);

    const next = await account.remediate(input, STATE);

    expect(outputOf(next)).toMatchObject({ outcome: 'succeeded' });
    await account.notifications();
  });
});
