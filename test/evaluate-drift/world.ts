/**
 * One seeded estate in the emulated account, shared by the evaluator's integration tests
 * and `phoenix plan`'s: two fleets declared in a real desired-state file, and one instance
 * for each story a reviewer cares about.
 *
 * - fleet `web` (Auto Scaling group `web-prod`, template `web-lt`): three members, one with
 *   its `Owner` tag changed by hand;
 * - fleet `batch` (standalone, `App=batch`, template `batch-lt` whose default is version 2):
 *   one in sync, one launched from the old version 1, one with the wrong instance type, one
 *   drifted but excluded (`phoenix:skip=true`);
 * - one standalone instance no fleet selects (`App=other`), drifted in every way.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTagsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  defaultImageIds,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
} from '../../emulator/seed';
import type { PhoenixClients } from '../../functions/aws/clients';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { loadDesiredStateFile } from '../../functions/io/desired-state-file';

export type Mode = 'observe' | 'notify' | 'enforce';

/** The desired-state file of the estate. */
export function desiredStateYaml(mode: Mode = 'enforce'): string {
  return `version: 1
defaults:
  mode: ${mode}
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-prod }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web, Environment: prod }
    team: team-web
  batch:
    match: { tags: { App: batch } }
    launchTemplate: { name: batch-lt, version: $Default }
    tags: { Owner: team-batch }
    team: team-batch
    exclude: { tags: { "phoenix:skip": "true" } }
`;
}

/** Writes the file to a fresh temporary directory and compiles it as the CLI and infra do. */
export async function writeDesiredState(
  yaml: string,
): Promise<{ file: string; compiled: CompiledDesiredState }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'phoenix-detection-'));
  const file = path.join(dir, 'phoenix.yaml');
  await writeFile(file, yaml, 'utf8');
  return { file, compiled: await loadDesiredStateFile(file, { commit: 'test0commit' }) };
}

export interface SeededEstate {
  web: { inSync: string[]; handChanged: string };
  batch: { inSync: string; oldVersion: string; wrongType: string; excluded: string };
  outside: string;
  templates: { web: { id: string; versions: number[] }; batch: { id: string; versions: number[] } };
  subnetId: string;
}

/** Seeds the estate; with `drift: false` every fleet instance is in sync (the clean case). */
export async function seedEstate(
  clients: PhoenixClients,
  options: { drift?: boolean } = {},
): Promise<SeededEstate> {
  const drift = options.drift ?? true;
  const { ec2, autoScaling } = clients;
  const network = await seedNetwork(ec2);
  const [imageA = '', imageB = ''] = await defaultImageIds(ec2, 2);
  const [subnetId] = network.subnetIds;
  const securityGroupIds = [network.securityGroupIds[0]];

  const webLt = await seedLaunchTemplate(ec2, {
    name: 'web-lt',
    versions: [
      { imageId: imageA, instanceType: 't3.micro', securityGroupIds, instanceTags: { Name: 'web' } },
    ],
  });
  const group = await seedAutoScalingGroup(autoScaling, ec2, {
    name: 'web-prod',
    launchTemplate: { id: webLt.id, version: '$Default' },
    min: 3,
    max: 4,
    desired: 3,
    subnetIds: [subnetId],
    tags: { Owner: 'team-web', Environment: 'prod' },
  });
  const [handChanged = '', ...webInSync] = group.instanceIds;
  if (drift) {
    await ec2.send(
      new CreateTagsCommand({ Resources: [handChanged], Tags: [{ Key: 'Owner', Value: 'someone-else' }] }),
    );
  }

  const batchSpec = { instanceType: 't3.micro', securityGroupIds, instanceTags: { Name: 'batch' } };
  const batchLt = await seedLaunchTemplate(ec2, {
    name: 'batch-lt',
    versions: [
      { ...batchSpec, imageId: imageA },
      { ...batchSpec, imageId: imageB },
    ],
    defaultVersion: 2,
  });
  const batchTags = { App: 'batch', Owner: 'team-batch' };
  const current = { id: batchLt.id, version: 2 };
  const [batchInSync = ''] = await seedStandaloneInstances(ec2, {
    launchTemplate: current,
    count: 1,
    subnetId,
    tags: batchTags,
  });
  const [oldVersion = ''] = await seedStandaloneInstances(ec2, {
    launchTemplate: drift ? { id: batchLt.id, version: 1 } : current,
    count: 1,
    subnetId,
    tags: batchTags,
  });
  const wrongTypeLaunch = await ec2.send(
    new RunInstancesCommand({
      LaunchTemplate: { LaunchTemplateId: batchLt.id, Version: '2' },
      InstanceType: drift ? 't3.large' : 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: Object.entries(batchTags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  const wrongType = wrongTypeLaunch.Instances?.[0]?.InstanceId ?? '';
  const [excluded = ''] = await seedStandaloneInstances(ec2, {
    launchTemplate: { id: batchLt.id, version: 1 },
    count: 1,
    subnetId,
    tags: { ...batchTags, Owner: 'nobody', 'phoenix:skip': 'true' },
  });
  const [outside = ''] = await seedStandaloneInstances(ec2, {
    launchTemplate: { id: batchLt.id, version: 1 },
    count: 1,
    subnetId,
    tags: { App: 'other', Owner: 'nobody' },
  });

  return {
    web: { inSync: webInSync, handChanged },
    batch: { inSync: batchInSync, oldVersion, wrongType, excluded },
    outside,
    templates: {
      web: { id: webLt.id, versions: webLt.versions },
      batch: { id: batchLt.id, versions: batchLt.versions },
    },
    subnetId,
  };
}
