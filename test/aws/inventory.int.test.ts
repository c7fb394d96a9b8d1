/**
 * Integration: an estate seeded in the emulated account, read back through the adapters and
 * judged by the drift engine, gives the verdicts the engine promises.
 *
 * Emulator quirks met here (see ../shared/EMULATOR.md):
 * - Auto Scaling tags members with the template's DEFAULT version even when the group asks
 *   for `$Latest`; the group here pins the default version by number, so its tag is honest.
 * - Launch template versions carry their full data (moto ignores `SourceVersion`) and no
 *   UserData (moto does not base64 it).
 * - The instance type is changed the way EC2 requires (stop, modify, start), whether or not
 *   the emulator would insist; instances are `running` again at the next Describe.
 */
import {
  CreateTagsCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  registerTargets,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
} from '../../emulator/seed';
import { describeInstances, listFleetInstances, resolveLaunchTemplate } from '../../functions/aws/inventory';
import { evaluateDrift } from '../../functions/domain/drift/engine';
import { findFleet } from '../../functions/domain/drift/match';
import type { CompiledFleet, DriftReason, InstanceFacts, Verdict } from '../../functions/domain/model';
import { fleet as fleetBuilder, tagFleet } from '../helpers/builders';
import { testClients } from '../helpers/emulator';

const { ec2, autoScaling, elbv2 } = testClients();
const NOW = new Date();

type Outcome =
  | { kind: 'outside' }
  | { kind: 'excluded'; fleet: string }
  | { kind: 'judged'; verdict: Verdict };

/** What Phoenix's sweep does for one instance: find its fleet, resolve the template, judge. */
async function judge(instance: InstanceFacts, fleets: readonly CompiledFleet[]): Promise<Outcome> {
  const match = findFleet(instance, fleets);
  if (match.kind === 'outside') return { kind: 'outside' };
  if (match.kind === 'excluded') return { kind: 'excluded', fleet: match.fleet.name };
  const template = await resolveLaunchTemplate(ec2, match.fleet.launchTemplate);
  return { kind: 'judged', verdict: evaluateDrift({ instance, fleet: match.fleet, template, now: NOW }) };
}

function reasonsOf(outcome: Outcome | undefined): DriftReason[] {
  if (outcome?.kind !== 'judged' || outcome.verdict.status !== 'drifted') {
    throw new Error(`expected a drifted verdict, got ${JSON.stringify(outcome)}`);
  }
  return outcome.verdict.reasons;
}

describe('the drift engine over the emulated account', () => {
  const outcomes = new Map<string, Outcome>();
  let images: string[];
  let securityGroupIds: [string, string];
  let fleets: CompiledFleet[];
  let members: { inSync: string; handEdited: string; excluded: string };
  let standalone: { inSync: string; oldVersion: string; resized: string; outside: string };
  let listed: { web: string[]; batch: string[] };

  beforeAll(async () => {
    // Arrange: one template with two versions (2 is the default), an ASG and standalone instances.
    images = await defaultImageIds(ec2);
    const network = await seedNetwork(ec2);
    securityGroupIds = network.securityGroupIds;
    const [imageV1, imageV2] = images;
    const template = await seedLaunchTemplate(ec2, {
      name: 'web-lt',
      versions: [
        {
          imageId: imageV1 ?? '',
          instanceType: 't3.micro',
          securityGroupIds: [securityGroupIds[0]],
          instanceTags: { Name: 'web' },
        },
        {
          imageId: imageV2 ?? '',
          instanceType: 't3.micro',
          securityGroupIds: [securityGroupIds[0]],
          instanceTags: { Name: 'web' },
        },
      ],
      defaultVersion: 2,
    });
    const targetGroupArn = await seedTargetGroup(elbv2, { name: 'web-tg', vpcId: network.vpcId, port: 80 });

    const group = await seedAutoScalingGroup(autoScaling, ec2, {
      name: 'web-prod',
      launchTemplate: { id: template.id, version: 2 },
      min: 3,
      max: 6,
      desired: 3,
      subnetIds: network.subnetIds,
      tags: { Owner: 'team-web', Environment: 'prod' },
      targetGroupArns: [targetGroupArn],
    });
    const [inSyncMember, handEdited, excluded] = group.instanceIds;
    members = { inSync: inSyncMember ?? '', handEdited: handEdited ?? '', excluded: excluded ?? '' };
    await ec2.send(
      new CreateTagsCommand({
        Resources: [members.handEdited],
        Tags: [{ Key: 'Owner', Value: 'someone-else' }],
      }),
    );
    await ec2.send(
      new CreateTagsCommand({
        Resources: [members.excluded],
        Tags: [{ Key: 'phoenix:skip', Value: 'true' }],
      }),
    );

    const batchTags = { App: 'batch', Owner: 'team-batch' };
    const [inSyncStandalone, resized] = await seedStandaloneInstances(ec2, {
      launchTemplate: { id: template.id, version: 2 },
      count: 2,
      subnetId: network.subnetIds[0],
      tags: batchTags,
    });
    const [oldVersion] = await seedStandaloneInstances(ec2, {
      launchTemplate: { id: template.id, version: 1 },
      count: 1,
      subnetId: network.subnetIds[1],
      tags: batchTags,
    });
    // Resized by hand: stop, change the type, start (EC2 only allows it on a stopped instance).
    await ec2.send(new StopInstancesCommand({ InstanceIds: [resized ?? ''] }));
    await ec2.send(
      new ModifyInstanceAttributeCommand({ InstanceId: resized ?? '', InstanceType: { Value: 't3.large' } }),
    );
    await ec2.send(new StartInstancesCommand({ InstanceIds: [resized ?? ''] }));
    // Launched by hand with no template and no fleet tag.
    const outside = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageV2,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: network.subnetIds[0],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'scratch' }] }],
      }),
    );
    standalone = {
      inSync: inSyncStandalone ?? '',
      oldVersion: oldVersion ?? '',
      resized: resized ?? '',
      outside: outside.Instances?.[0]?.InstanceId ?? '',
    };
    await registerTargets(elbv2, targetGroupArn, [standalone.inSync, standalone.oldVersion]);

    fleets = [
      fleetBuilder({
        name: 'web',
        match: { kind: 'autoScalingGroup', autoScalingGroup: 'web-prod' },
        launchTemplate: { name: 'web-lt', version: '$Default' },
        tags: { Owner: 'team-web', Environment: 'prod' },
        exclude: { tags: { 'phoenix:skip': 'true' } },
      }),
      tagFleet({
        name: 'batch',
        selector: { App: 'batch' },
        launchTemplate: { id: template.id, version: '$Default' },
        tags: { Owner: 'team-batch' },
      }),
    ];

    // Act: list each fleet through the adapters, look up the stray instance by id, judge all.
    const [webInstances = [], batchInstances = []] = await Promise.all(
      fleets.map((f) => listFleetInstances(ec2, f)),
    );
    listed = {
      web: webInstances.map((i) => i.instanceId).sort(),
      batch: batchInstances.map((i) => i.instanceId).sort(),
    };
    const strays = await describeInstances(ec2, [standalone.outside]);
    for (const instance of [...webInstances, ...batchInstances, ...strays]) {
      outcomes.set(instance.instanceId, await judge(instance, fleets));
    }
  });

  it("lists each fleet's instances through server-side filters", () => {
    expect(listed.web).toEqual([members.inSync, members.handEdited, members.excluded].sort());
    expect(listed.batch).toEqual([standalone.inSync, standalone.oldVersion, standalone.resized].sort());
  });

  it.each([
    ['an untouched ASG member', () => members.inSync, 'web'],
    ['a standalone instance from the default version', () => standalone.inSync, 'batch'],
  ])('finds %s in sync', (_case, instanceId, fleet) => {
    expect(outcomes.get(instanceId())).toEqual({ kind: 'judged', verdict: { status: 'in-sync', fleet } });
  });

  it('reports a tag changed by hand as tag-value drift against Git', () => {
    expect(reasonsOf(outcomes.get(members.handEdited))).toEqual([
      {
        kind: 'tag-value',
        field: 'tags.Owner',
        expected: 'team-web',
        actual: 'someone-else',
        source: 'desired-state',
      },
    ]);
  });

  it('reports an instance from the previous version as launch-template-version drift (and its older image)', () => {
    expect(reasonsOf(outcomes.get(standalone.oldVersion))).toEqual([
      { kind: 'image', field: 'imageId', expected: images[1], actual: images[0], source: 'launch-template' },
      {
        kind: 'launch-template-version',
        field: 'launchTemplate.version',
        expected: '2',
        actual: '1',
        source: 'launch-template',
      },
    ]);
  });

  it('reports an instance resized by hand as instance-type drift', () => {
    expect(reasonsOf(outcomes.get(standalone.resized))).toEqual([
      {
        kind: 'instance-type',
        field: 'instanceType',
        expected: 't3.micro',
        actual: 't3.large',
        source: 'launch-template',
      },
    ]);
  });

  it('leaves an instance carrying the exclusion tag alone', () => {
    expect(outcomes.get(members.excluded)).toEqual({ kind: 'excluded', fleet: 'web' });
  });

  it('leaves an instance outside every fleet alone', () => {
    expect(outcomes.get(standalone.outside)).toEqual({ kind: 'outside' });
  });

  it('judges an instance the same whichever lookup read it (fleet listing or lookup by id)', async () => {
    const reread = await describeInstances(ec2, [members.handEdited, standalone.oldVersion]);

    for (const instance of reread) {
      expect(await judge(instance, fleets)).toEqual(outcomes.get(instance.instanceId));
    }
    expect(reread).toHaveLength(2);
  });
});
