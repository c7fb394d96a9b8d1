import { beforeAll, describe, expect, it } from 'vitest';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import { describeInstances } from '../../functions/aws/inventory';
import { StateStore } from '../../functions/aws/state-store';
import type { RunResult } from '../../functions/local/step-functions/runner';
import { runRemediation } from '../../functions/local/step-functions/runner';
import type { LocalClients } from '../../functions/local/step-functions/tasks';
import { ec2Error, failingEc2, type SentCommands, withAsyncGroupLaunches } from '../helpers/launch-faults';
import {
  describeGroup,
  desiredState,
  seedDriftedAsgFleet,
  seedDriftedStandaloneFleet,
  type TestAccount,
  targetsOf,
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
  shop:
    match: { autoScalingGroup: shop-asg }
    launchTemplate: { name: shop-lt, version: $Default }
    tags: { Owner: team-shop }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
  jobs:
    match: { tags: { App: jobs } }
    launchTemplate: { name: jobs-lt, version: $Default }
    tags: { Owner: team-jobs }
`);

/** How often each state was retried in a run. */
function retries(result: RunResult): Record<string, number> {
  const counted: Record<string, number> = {};
  for (const e of result.events)
    if (e.type === 'StateRetried' && e.state !== undefined) counted[e.state] = (counted[e.state] ?? 0) + 1;
  return counted;
}

describe('a launch EC2 refuses for a reason retrying cannot fix', () => {
  let account: TestAccount;
  let store: StateStore;
  let api: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  let shop: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    store = new StateStore(account.clients.dynamodb, account.tableName);
    api = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 2 });
    web = await seedDriftedAsgFleet(account.clients, {
      name: 'web',
      desired: 3,
      max: 4,
      cidr: '10.4.0.0/16',
    });
    shop = await seedDriftedAsgFleet(account.clients, {
      name: 'shop',
      desired: 3,
      max: 4,
      cidr: '10.5.0.0/16',
    });
    // Each fleet's default version is one EC2 refuses to launch: an instance type the region
    // does not offer, or an image that does not exist.
    const refused = async (
      fleet: { template: { id: string }; network: { securityGroupIds: string[] }; newImage: string },
      spec: { imageId?: string; instanceType?: string },
    ) => {
      const version = await addLaunchTemplateVersion(account.clients.ec2, {
        id: fleet.template.id,
        version: {
          imageId: spec.imageId ?? fleet.newImage,
          instanceType: spec.instanceType ?? 't3.micro',
          securityGroupIds: [fleet.network.securityGroupIds[0] ?? ''],
        },
      });
      await setDefaultVersion(account.clients.ec2, { id: fleet.template.id, version });
    };
    await refused(api, { instanceType: 't3.bogus' });
    await refused(web, { imageId: 'ami-0000000000000dead' });
    await refused(shop, { imageId: 'ami-0000000000000dead' });
  });

  it('standalone: RunInstances is refused once, not retried; rolled back, the version quarantined with the code', async () => {
    const [old = '', sibling = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, old);

    const result = await account.remediate(input, STATE);

    expect(result).toMatchObject({ status: 'FAILED', error: 'LaunchRejectedError' });
    expect(retries(result)).toEqual({});
    expect(result.apiCalls['EC2.RunInstances']).toBe(1);
    expect(result.cause).toContain('InvalidInstanceType.NotFound');
    expect(result.cause).toMatch(
      /retrying cannot fix this — rolled back: nothing had changed — launch template/,
    );
    // Nothing launched, the old instance still serving.
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('running');
    expect((await targetsOf(account.clients, api.targetGroupArn))[old]).toBe('healthy');
    const quarantine = await store.getQuarantine('api', api.template.id, input.launchTemplate.version);
    expect(quarantine?.cause).toContain('LaunchRejectedError');
    expect(quarantine?.cause).toContain('InvalidInstanceType.NotFound');
    expect(await store.listLeases('api')).toEqual([]);
    const notes = await account.notifications();
    expect(notes.map((n) => n.event)).toEqual(['remediation.rolled-back']);
    expect(notes[0]?.message).toContain('InvalidInstanceType.NotFound');

    // The fleet's next remediation of that version starts nothing.
    const next = await account.remediate(await account.inputFor(STATE, sibling), STATE);
    expect(next.output).toMatchObject({ outcome: 'skipped', reason: 'quarantined' });
    expect(next.apiCalls['EC2.RunInstances']).toBeUndefined();
    expect((next.output as { detail: string }).detail).toContain('InvalidInstanceType.NotFound');
  });

  it('group launching synchronously (moto): the raise fails with EC2’s code; rolled back to its capacity, quarantined', async () => {
    const [old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);

    const result = await account.remediate(input, STATE);

    expect(result).toMatchObject({ status: 'FAILED', error: 'LaunchRejectedError' });
    expect(result.cause).toContain('InvalidAMIID.NotFound');
    const group = await describeGroup(account.clients, 'web-asg');
    expect(group.DesiredCapacity).toBe(3);
    expect((group.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual(
      [...web.group.instanceIds].sort(),
    );
    expect(await store.getQuarantine('web', web.template.id, input.launchTemplate.version)).toMatchObject({
      cause: expect.stringContaining('InvalidAMIID.NotFound'),
    });
  });

  it('group launching asynchronously (AWS): the failed scaling activity ends the health checks at once; rolled back, quarantined', async () => {
    const [old = ''] = shop.group.instanceIds;
    const input = await account.inputFor(STATE, old);
    const autoScaling = withAsyncGroupLaunches(account.local.autoScaling, account.now);

    const result = await runRemediation(input, {
      clients: { ...account.local, autoScaling },
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    expect(autoScaling.activities).toHaveLength(1);
    expect(result).toMatchObject({ status: 'FAILED', error: 'LaunchRejectedError' });
    // The first health check read the failure: no waiting out the health-check bound.
    expect(
      result.events.filter((e) => e.type === 'StateEntered' && e.state === 'CheckReplacementHealth'),
    ).toHaveLength(1);
    expect(result.cause).toContain("The image id '[ami-0000000000000dead]' does not exist");
    const group = await describeGroup(account.clients, 'shop-asg');
    expect(group.DesiredCapacity).toBe(3);
    expect(await store.getQuarantine('shop', shop.template.id, input.launchTemplate.version)).toMatchObject({
      cause: expect.stringContaining('could not launch a replacement'),
    });
  });
});

describe('a launch EC2 refuses for now, or for good, with codes moto never sends', () => {
  let account: TestAccount;
  let store: StateStore;
  let jobs: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    store = new StateStore(account.clients.dynamodb, account.tableName);
    jobs = await seedDriftedStandaloneFleet(account.clients, { name: 'jobs', count: 3 });
  });

  function withEc2(ec2: LocalClients['ec2']): LocalClients {
    return { ...account.local, ec2 };
  }

  it('no capacity for longer than the retries: retried with backoff, rolled back, NOT quarantined, tried again later', async () => {
    const [old = ''] = jobs.instanceIds;
    const input = await account.inputFor(STATE, old);
    const sent: SentCommands = [];
    const ec2 = failingEc2(
      account.local.ec2,
      {
        command: 'RunInstancesCommand',
        error: () =>
          ec2Error(
            'InsufficientInstanceCapacity',
            500,
            'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a).',
          ),
        times: 100,
      },
      sent,
    );

    const result = await runRemediation(input, {
      clients: withEc2(ec2),
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    expect(result).toMatchObject({ status: 'FAILED', error: 'InsufficientCapacityError' });
    expect(retries(result)).toEqual({ LaunchStandaloneReplacement: 4 });
    expect(sent.filter((c) => c.command === 'RunInstancesCommand')).toHaveLength(5);
    expect(result.cause).toContain('InsufficientInstanceCapacity');
    expect(result.cause).toContain('not the template: the next detection of this drift tries again');
    expect(await store.listQuarantines('jobs')).toEqual([]);
    // The drift moves to its next attempt: the next detection starts it under a new name.
    expect(await store.attemptOf(old, input.fingerprint)).toBe(1);
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('running');
  });

  it('capacity back before the retries run out: the replacement succeeds', async () => {
    const [, old = ''] = jobs.instanceIds;
    const input = await account.inputFor(STATE, old);
    const ec2 = failingEc2(account.local.ec2, {
      command: 'RunInstancesCommand',
      error: () => ec2Error('InsufficientInstanceCapacity', 500, 'no t3.micro capacity now'),
      times: 2,
    });

    const result = await runRemediation(input, {
      clients: withEc2(ec2),
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    expect(retries(result)).toEqual({ LaunchStandaloneReplacement: 2 });
  });

  it('IAM denies the launch (UnauthorizedOperation): not retried; rolled back, quarantined, the code in the cause', async () => {
    const [, , old = ''] = jobs.instanceIds;
    const input = await account.inputFor(STATE, old);
    const ec2 = failingEc2(account.local.ec2, {
      command: 'RunInstancesCommand',
      error: () =>
        ec2Error(
          'UnauthorizedOperation',
          403,
          'You are not authorized to perform this operation. User: arn:…',
        ),
      times: 100,
    });

    const result = await runRemediation(input, {
      clients: withEc2(ec2),
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    expect(result).toMatchObject({ status: 'FAILED', error: 'LaunchRejectedError' });
    expect(retries(result)).toEqual({});
    expect(result.cause).toContain('UnauthorizedOperation: You are not authorized');
    expect(await store.getQuarantine('jobs', jobs.template.id, input.launchTemplate.version)).toMatchObject({
      cause: expect.stringContaining('UnauthorizedOperation'),
    });
  });
});
