import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import { StateStore } from '../../functions/aws/state-store';
import { type RunResult, runRemediation } from '../../functions/local/step-functions/runner';
import { recording, type SentCommands } from '../helpers/launch-faults';
import { describeGroup, desiredState, seedDriftedAsgFleet, type TestAccount, testAccount } from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 75 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
`);

/**
 * Someone's hand on the group while a surge's replacement is in flight (found healthy, the
 * old instance not yet handed back): the group must end at its desired capacity, and Phoenix
 * must touch nothing that left the fleet.
 */
describe('a human acts on the old member mid-replacement', () => {
  let account: TestAccount;
  let store: StateStore;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  const SIZE = 6;

  beforeAll(async () => {
    account = await testAccount();
    store = new StateStore(account.clients.dynamodb, account.tableName);
    web = await seedDriftedAsgFleet(account.clients, { name: 'web', desired: SIZE, max: 8, min: 1 });
  });

  /** Runs the remediation of `old`, doing `hand` once its replacement is found healthy; records every call. */
  async function replaceWhile(old: string, hand: () => Promise<void>) {
    const input = await account.inputFor(STATE, old);
    const sent: SentCommands = [];
    const clients = {
      ...account.local,
      ec2: recording(account.local.ec2, sent),
      autoScaling: recording(account.local.autoScaling, sent),
      elbv2: recording(account.local.elbv2, sent),
    };
    let handDone = false;
    let sentBeforeHand = 0;
    const result: RunResult = await runRemediation(input, {
      clients,
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks({
        afterState: async ({ state, output }) => {
          if (!handDone && state === 'CheckReplacementHealth' && (output as { healthy?: boolean }).healthy) {
            expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(SIZE + 1);
            await hand();
            handDone = true;
            sentBeforeHand = sent.length;
          }
        },
      }),
    });
    expect(handDone).toBe(true);
    // Every call Phoenix made after the hand, naming the old instance.
    const afterHand = sent.slice(sentBeforeHand).filter((c) => JSON.stringify(c.input).includes(old));
    const notes = await account.notifications();
    return { result, afterHand, notes };
  }

  it('the old member terminated by hand: the surge is given back (desired as before), nothing else terminated', async () => {
    const [old = ''] = web.group.instanceIds;

    const { result, afterHand, notes } = await replaceWhile(old, async () => {
      await account.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded', reason: 'replaced' });
    const group = await describeGroup(account.clients, 'web-asg');
    expect(group.DesiredCapacity).toBe(SIZE);
    // Phoenix only read the old instance after the hand: no terminate, no detach, no deregister.
    expect(afterHand.map((c) => c.command)).toEqual(['DescribeInstancesCommand']);
    const succeeded = notes.find((n) => n.event === 'remediation.succeeded');
    expect(succeeded?.message).toContain(`${old} was terminated by someone else during the replacement`);
    expect(succeeded?.message).toContain(`desired capacity ${SIZE + 1} → ${SIZE}`);
    expect(await store.listLeases('web')).toEqual([]);
  });

  it('the old member detached by hand (the group refills): left running and untouched, the surge given back', async () => {
    const before = await describeGroup(account.clients, 'web-asg');
    const drifted = await describeInstances(
      account.clients.ec2,
      (before.Instances ?? []).map((i) => i.InstanceId ?? ''),
    );
    const old = drifted.find((i) => i.launchTemplate?.version === '1')?.instanceId ?? '';

    const { result, afterHand, notes } = await replaceWhile(old, async () => {
      await account.clients.autoScaling.send(
        new DetachInstancesCommand({
          AutoScalingGroupName: 'web-asg',
          InstanceIds: [old],
          ShouldDecrementDesiredCapacity: false,
        }),
      );
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded', reason: 'replaced' });
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('running');
    expect(afterHand.map((c) => c.command)).toEqual(['DescribeInstancesCommand']);
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(SIZE);
    const message = notes.find((n) => n.event === 'remediation.succeeded')?.message ?? '';
    expect(message).toContain(
      `${old} left Auto Scaling group web-asg during the replacement (detached by someone else); Phoenix did not terminate it: it belongs to no declared fleet now`,
    );
    expect(message).toContain(`desired capacity ${SIZE + 1} → ${SIZE}`);
  });

  it('the old member detached by hand with the capacity lowered: the human’s −1 stays, Phoenix takes back only its own +1', async () => {
    const before = await describeGroup(account.clients, 'web-asg');
    const drifted = await describeInstances(
      account.clients.ec2,
      (before.Instances ?? []).map((i) => i.InstanceId ?? ''),
    );
    const old = drifted.find((i) => i.launchTemplate?.version === '1')?.instanceId ?? '';

    const { result, afterHand } = await replaceWhile(old, async () => {
      await account.clients.autoScaling.send(
        new DetachInstancesCommand({
          AutoScalingGroupName: 'web-asg',
          InstanceIds: [old],
          ShouldDecrementDesiredCapacity: true,
        }),
      );
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('running');
    expect(afterHand.map((c) => c.command)).toEqual(['DescribeInstancesCommand']);
    // Relative, never a number read earlier: SIZE + 1 (surge) − 1 (the human) − 1 (Phoenix's +1 back).
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(SIZE - 1);
  });
});
