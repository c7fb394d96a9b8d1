import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import { StateStore } from '../../functions/aws/state-store';
import { runRemediation } from '../../functions/local/step-functions/runner';
import { withInstanceIam } from '../helpers/instance-iam';
import {
  describeGroup,
  desiredState,
  healthyFloor,
  healthyServing,
  seedDriftedAsgFleet,
  type TestAccount,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
fleets:
  cache:
    match: { autoScalingGroup: cache-asg }
    launchTemplate: { name: cache-lt, version: $Default }
    tags: { Owner: team-cache }
    budget: { maxConcurrent: 1, minHealthyPercent: 75 }
`);

/**
 * A group at MaxSize cannot surge; its budget allows one instance out. On AWS, detaching an
 * instance removes its `aws:autoscaling:groupName` tag, and the roles may act on an Auto
 * Scaling fleet's instances only while they carry it: the EC2 client here answers to that
 * policy (moto checks no IAM; it does drop the tag on detach, as AWS does).
 */
describe('a group at MaxSize, under the synthesized IAM', () => {
  let account: TestAccount;
  let store: StateStore;
  let cache: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    store = new StateStore(account.clients.dynamodb, account.tableName);
    cache = await seedDriftedAsgFleet(account.clients, { name: 'cache', desired: 4, max: 4 });
  });

  it('the emulated account drops the group tag of a detached instance, as AWS does', async () => {
    // The fact the old detach-first path broke on (EC2 Auto Scaling user guide, "EC2 instance
    // tagging lifecycle"), checked on a group of its own.
    const other = await seedDriftedAsgFleet(account.clients, {
      name: 'spare',
      desired: 1,
      max: 1,
      cidr: '10.9.0.0/16',
    });
    const [spare = ''] = other.group.instanceIds;
    expect(
      (await describeInstances(account.clients.ec2, [spare]))[0]?.tags['aws:autoscaling:groupName'],
    ).toBe('spare-asg');
    await account.clients.autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: 'spare-asg',
        InstanceIds: [spare],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const [detached] = await describeInstances(account.clients.ec2, [spare]);
    expect(detached?.tags['aws:autoscaling:groupName']).toBeUndefined();
  });

  it('replaces the old member through Standby: the group keeps it (and its tag) until it terminates it; nothing denied', async () => {
    const [old = ''] = cache.group.instanceIds;
    const group = await describeGroup(account.clients, 'cache-asg');
    const size = group.DesiredCapacity ?? 0;
    const input = await account.inputFor(STATE, old);
    const ec2 = withInstanceIam(account.local.ec2, STATE.fleets);
    const healthy: number[] = [];
    const oldLifecycle: string[] = [];

    const result = await runRemediation(input, {
      clients: { ...account.local, ec2 },
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks({
        afterState: async () => {
          healthy.push(await healthyServing(account.clients, cache.targetGroupArn));
          const now = await describeGroup(account.clients, 'cache-asg');
          oldLifecycle.push(
            now.Instances?.find((i) => i.InstanceId === old)?.LifecycleState ?? 'not a member',
          );
        },
      }),
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded', reason: 'replaced' });
    expect(ec2.denied).toEqual([]);
    expect(result.apiCalls['AutoScaling.DetachInstances']).toBeUndefined();
    expect(result.apiCalls['AutoScaling.SetDesiredCapacity']).toBeUndefined();
    expect(result.apiCalls['AutoScaling.EnterStandby']).toBe(1);
    expect(result.apiCalls['AutoScaling.TerminateInstanceInAutoScalingGroup']).toBe(1);
    // In the group, in Standby, until the group terminated it.
    expect(oldLifecycle).toContain('Standby');
    expect(oldLifecycle.slice(0, oldLifecycle.indexOf('Standby'))).not.toContain('not a member');
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('terminated');
    const after = await describeGroup(account.clients, 'cache-asg');
    expect(after.DesiredCapacity).toBe(size);
    expect((after.Instances ?? []).map((i) => i.LifecycleState)).toEqual(Array(size).fill('InService'));
    for (const h of healthy) expect(h).toBeGreaterThanOrEqual(healthyFloor(size, 75));
    expect(await store.listLeases('cache')).toEqual([]);
  });

  it('a replacement that never becomes healthy: the old member leaves Standby, the group is as it was', async () => {
    const group = await describeGroup(account.clients, 'cache-asg');
    const size = group.DesiredCapacity ?? 0;
    const members = (group.Instances ?? []).map((i) => i.InstanceId ?? '');
    const drifted = (await describeInstances(account.clients.ec2, members)).filter(
      (i) => i.launchTemplate?.version === '1',
    );
    const old = drifted[0]?.instanceId ?? '';
    const input = await account.inputFor(STATE, old);
    const ec2 = withInstanceIam(account.local.ec2, STATE.fleets);

    const result = await runRemediation(input, {
      clients: { ...account.local, ec2 },
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks({
        faults: { impaired: 'replacement' },
      }),
    });

    expect(result).toMatchObject({ status: 'FAILED', error: 'ReplacementUnhealthyError' });
    expect(result.cause).toContain(`moved ${old} out of Standby`);
    expect(ec2.denied).toEqual([]);
    const after = await describeGroup(account.clients, 'cache-asg');
    expect(after.DesiredCapacity).toBe(size);
    expect(after.Instances?.find((i) => i.InstanceId === old)?.LifecycleState).toBe('InService');
    expect((after.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual([...members].sort());
  });
});
