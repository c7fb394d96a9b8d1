/**
 * A synthetic estate for the engine benchmark: four fleets (two Auto Scaling, two selected
 * by tags; strict tags, a maximum age and an exclusion among them), their launch template
 * facts, and instances in a fixed mix of in-sync, drifted (one to three reasons), too old,
 * excluded and outside any fleet, with the AWS Config item each would have.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledDesiredState, InstanceFacts, LaunchTemplateFacts } from '../../functions/domain/model';
import { PROJECT_ROOT } from '../../infra/parts/functions';
import { benchDesiredState } from './desired-state';

export const SYNTHETIC_NOW = new Date('2025-06-15T12:00:00.000Z');

export const SYNTHETIC_DESIRED_STATE_YAML = `
version: 1
defaults:
  mode: enforce
  checks: { image: true, instanceType: true, securityGroups: true }
fleets:
  web:
    match: { autoScalingGroup: web-prod }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web, Environment: prod }
    team: web
  api:
    match: { autoScalingGroup: api-prod }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api, Environment: prod, Revision: 3f2a1c9 }
    checks: { maxAgeDays: 30, strictTags: { prefix: "acme:" } }
    team: api
  batch:
    match: { tags: { App: batch } }
    launchTemplate: { name: batch-lt, version: $Default }
    tags: { Owner: team-batch }
    team: batch
  workers:
    match: { tags: { App: worker } }
    launchTemplate: { name: worker-lt, version: $Default }
    tags: { Owner: team-workers, Environment: prod }
    exclude: { tags: { "phoenix:skip": "true" } }
    team: workers
`;

interface FleetShape {
  name: string;
  templateId: string;
  templateName: string;
  imageId: string;
  instanceType: string;
  securityGroupIds: string[];
  declared: Record<string, string>;
  /** Tags only members of this fleet carry: the ASG tag, or the selector tags. */
  membership: Record<string, string>;
}

const FLEETS: readonly FleetShape[] = [
  {
    name: 'web',
    templateId: 'lt-0000000000000web1',
    templateName: 'web-lt',
    imageId: 'ami-0a0a0a0a0a0a0a0a1',
    instanceType: 't3.small',
    securityGroupIds: ['sg-0000000000000web1'],
    declared: { Owner: 'team-web', Environment: 'prod' },
    membership: { 'aws:autoscaling:groupName': 'web-prod' },
  },
  {
    name: 'api',
    templateId: 'lt-0000000000000api1',
    templateName: 'api-lt',
    imageId: 'ami-0b0b0b0b0b0b0b0b1',
    instanceType: 'm6g.large',
    securityGroupIds: ['sg-0000000000000api1', 'sg-0000000000000api2'],
    declared: { Owner: 'team-api', Environment: 'prod', Revision: '3f2a1c9' },
    membership: { 'aws:autoscaling:groupName': 'api-prod' },
  },
  {
    name: 'batch',
    templateId: 'lt-00000000000batch1',
    templateName: 'batch-lt',
    imageId: 'ami-0c0c0c0c0c0c0c0c1',
    instanceType: 'c7g.xlarge',
    securityGroupIds: ['sg-00000000000batch1'],
    declared: { Owner: 'team-batch' },
    membership: { App: 'batch' },
  },
  {
    name: 'workers',
    templateId: 'lt-0000000000worker1',
    templateName: 'worker-lt',
    imageId: 'ami-0d0d0d0d0d0d0d0d1',
    instanceType: 'r7g.large',
    securityGroupIds: ['sg-0000000000worker1'],
    declared: { Owner: 'team-workers', Environment: 'prod' },
    membership: { App: 'worker' },
  },
];

const TEMPLATE_VERSION = 7;

export function syntheticDesiredState(): CompiledDesiredState {
  return benchDesiredState(SYNTHETIC_DESIRED_STATE_YAML, 'synthetic.yaml');
}

/** Each fleet's launch template, resolved (as the evaluator resolves it once per invocation). */
export function syntheticTemplates(): Map<string, LaunchTemplateFacts> {
  return new Map(
    FLEETS.map((f) => [
      f.name,
      {
        id: f.templateId,
        name: f.templateName,
        version: TEMPLATE_VERSION,
        imageId: f.imageId,
        instanceType: f.instanceType,
        securityGroupIds: [...f.securityGroupIds],
        instanceTags: { Name: f.name },
      },
    ]),
  );
}

/** What instance `index` is, by the mix: drift kinds and exceptions at fixed rates. */
export function syntheticInstance(index: number): InstanceFacts {
  const fleet = FLEETS[index % FLEETS.length] as FleetShape;
  const kind = Math.floor(index / FLEETS.length) % 100;
  const tags: Record<string, string> = {
    Name: fleet.name,
    ...fleet.declared,
    'aws:ec2launchtemplate:id': fleet.templateId,
    'aws:ec2launchtemplate:version': String(TEMPLATE_VERSION),
  };
  if (kind !== 99) Object.assign(tags, fleet.membership);
  const ageDays = 1 + (index % 25);
  const facts: InstanceFacts = {
    instanceId: `i-${index.toString(16).padStart(17, '0')}`,
    state: 'running',
    tags,
    imageId: fleet.imageId,
    instanceType: fleet.instanceType,
    securityGroupIds: [...fleet.securityGroupIds],
    subnetId: 'subnet-0a1a2a3a4a5a6a7a8',
    vpcId: 'vpc-0f3e2d1c0b9a87654',
    availabilityZone: 'us-east-1a',
    launchTime: new Date(SYNTHETIC_NOW.getTime() - ageDays * 86_400_000).toISOString(),
    launchTemplate: { id: fleet.templateId, version: String(TEMPLATE_VERSION) },
  };
  if (fleet.membership['aws:autoscaling:groupName'] !== undefined && kind !== 99) {
    facts.autoScalingGroup = fleet.membership['aws:autoscaling:groupName'];
  }
  // 70 in sync; the rest drifted in one to three ways, too old, excluded or outside.
  if (kind >= 70 && kind < 80) tags.Owner = 'someone-else';
  if (kind >= 80 && kind < 86) {
    facts.imageId = 'ami-0ffffffffffffff01';
    tags['aws:ec2launchtemplate:version'] = String(TEMPLATE_VERSION - 1);
    facts.launchTemplate = { id: fleet.templateId, version: String(TEMPLATE_VERSION - 1) };
  }
  if (kind >= 86 && kind < 90) {
    facts.securityGroupIds = ['sg-0eeeeeeeeeeeeeee1'];
    facts.instanceType = 't3.nano';
    delete tags.Environment;
  }
  if (kind >= 90 && kind < 95) {
    facts.launchTime = new Date(SYNTHETIC_NOW.getTime() - 45 * 86_400_000).toISOString();
    tags['acme:debug'] = 'true';
  }
  if (kind >= 95 && kind < 99) tags['phoenix:skip'] = 'true';
  return facts;
}

let configItemTemplate: Record<string, unknown> | undefined;

function template(): Record<string, unknown> {
  configItemTemplate ??= JSON.parse(
    readFileSync(join(PROJECT_ROOT, 'test/fixtures/config-items/asg-member-running.json'), 'utf8'),
  ) as Record<string, unknown>;
  return configItemTemplate;
}

/** The AWS Config configuration item of an instance, as Config delivers it (JSON text). */
export function configItemOf(facts: InstanceFacts): string {
  const item = structuredClone(template());
  const configuration = item.configuration as Record<string, unknown>;
  const tagList = Object.entries(facts.tags).map(([key, value]) => ({ key, value }));
  Object.assign(configuration, {
    instanceId: facts.instanceId,
    imageId: facts.imageId,
    instanceType: facts.instanceType,
    launchTime: facts.launchTime,
    subnetId: facts.subnetId,
    vpcId: facts.vpcId,
    securityGroups: facts.securityGroupIds.map((groupId) => ({ groupId, groupName: groupId })),
    tags: tagList,
    state: { code: 16, name: facts.state },
  });
  (configuration.placement as Record<string, unknown>).availabilityZone = facts.availabilityZone;
  Object.assign(item, {
    resourceId: facts.instanceId,
    resourceName: facts.instanceId,
    ARN: `arn:aws:ec2:us-east-1:123456789012:instance/${facts.instanceId}`,
    tags: { ...facts.tags },
  });
  return JSON.stringify(item);
}
