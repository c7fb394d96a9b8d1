/**
 * The executions the step specs run: an Auto Scaling member of fleet `web` and a standalone
 * instance of fleet `api`, the account they live in (seeded into a {@link FakeAccount}), and
 * the parts of the state each step finds there.
 */
import type { MachineData, Plan } from '../../../functions/remediation/input';
import { EXECUTION, type FakeAccount, type FakeGroup, SUBNET, VPC } from './fakes';

export const WEB_LT = 'lt-0aaaaaaaaaaaaaaa1';
export const API_LT = 'lt-0aaaaaaaaaaaaaaa2';
export const OLD = 'i-0000000000000001';
export const REPLACEMENT = 'i-0000000000000002';
export const SUCCESSOR = 'i-0000000000000003';
export const PEERS = ['i-00000000000000a1', 'i-00000000000000a2'];
export const WEB_TG =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef';
export const HAND_TG =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/by-hand/fedcba9876543210';

/** Waits and bounds of the specs: five health checks, fifteen seconds apart. */
export const TIMINGS = {
  healthCheckIntervalSeconds: 15,
  healthCheckMaxAttempts: 5,
  maxDrainSeconds: 120,
  leaseTtlSeconds: 3600,
};

/** The execution input of `instanceId` in fleet `fleet`, pinned to version 2 of its template. */
export function input(fleet: 'web' | 'api' = 'web', instanceId = OLD): MachineData {
  return {
    requestVersion: 1,
    instanceId,
    fleet,
    fingerprint: 'v1-aaaaaaaaaaaaaaaaaaaaaaaa',
    reasons: [
      { kind: 'image', field: 'imageId', expected: 'ami-new', actual: 'ami-old', source: 'launch-template' },
    ],
    desiredState: { revision: 'aaaaaaaaaaaa', commit: 'abc1234' },
    launchTemplate: { id: fleet === 'web' ? WEB_LT : API_LT, name: `${fleet}-lt`, version: 2 },
    detectedAt: '2025-06-15T12:00:00.000Z',
    trigger: 'test',
    attempt: 0,
    timings: TIMINGS,
  };
}

/** The group `web-asg`: the old instance and two peers in service, the replacement none of them yet. */
export function seedWebGroup(
  account: FakeAccount,
  sizes: Partial<Pick<FakeGroup, 'desired' | 'min' | 'max'>> = {},
): FakeGroup {
  account.addTemplate({ id: WEB_LT, name: 'web-lt', version: 2, imageId: 'ami-new' });
  for (const id of [OLD, ...PEERS]) {
    account.addInstance({
      id,
      state: 'running',
      tags: {
        'aws:autoscaling:groupName': 'web-asg',
        'aws:ec2launchtemplate:id': WEB_LT,
        'aws:ec2launchtemplate:version': '2',
      },
      imageId: id === OLD ? 'ami-old' : 'ami-new',
      instanceType: 't3.micro',
      subnetId: SUBNET,
      vpcId: VPC,
    });
  }
  account.addTargetGroup({
    arn: WEB_TG,
    vpcId: VPC,
    deregistrationDelay: 300,
    targets: [OLD, ...PEERS].map((id) => ({ id, port: 80, state: 'healthy' })),
  });
  return account.addGroup({
    name: 'web-asg',
    desired: 3,
    min: 1,
    max: 4,
    ...sizes,
    members: [OLD, ...PEERS].map((id) => ({ id, lifecycle: 'InService' })),
    targetGroupArns: [WEB_TG],
    launchTemplate: { id: WEB_LT, version: '$Default' },
  });
}

/** A standalone `api` instance from version 1 of its template, registered in one target group by hand. */
export function seedApiInstance(account: FakeAccount) {
  account.addTemplate({ id: API_LT, name: 'api-lt', version: 2, imageId: 'ami-new' });
  account.addInstance({
    id: OLD,
    state: 'running',
    tags: { App: 'api', 'aws:ec2launchtemplate:id': API_LT, 'aws:ec2launchtemplate:version': '1' },
    imageId: 'ami-old',
    instanceType: 't3.micro',
    subnetId: SUBNET,
    vpcId: VPC,
  });
  account.addTargetGroup({
    arn: HAND_TG,
    vpcId: VPC,
    deregistrationDelay: 30,
    targets: [{ id: OLD, port: 8080, state: 'healthy' }],
  });
}

/** A group member the group launched for this execution. */
export function launchedByGroup(
  account: FakeAccount,
  id: string,
  lifecycle = 'InService',
  health = 'Healthy',
) {
  account.addInstance({
    id,
    state: 'running',
    tags: { 'aws:autoscaling:groupName': 'web-asg', 'aws:ec2launchtemplate:id': WEB_LT },
    imageId: 'ami-new',
    subnetId: SUBNET,
    vpcId: VPC,
  });
  account.group('web-asg').members.push({ id, lifecycle, health });
}

/** The plan of a replacement of the old member of `web-asg`. */
export function asgPlan(mode: 'surge' | 'standby-first', over: Partial<NonNullable<Plan['asg']>> = {}): Plan {
  return {
    strategy: 'asg',
    detail: `${mode} of web-asg`,
    disruption: mode === 'surge' ? 0 : 1,
    oldTargets: [{ targetGroupArn: WEB_TG, port: 80 }],
    drainTargets: mode === 'surge' ? [] : [{ targetGroupArn: WEB_TG, port: 80 }],
    replacementTargetGroups: [WEB_TG],
    drainSeconds: mode === 'surge' ? 0 : 120,
    asg: {
      name: 'web-asg',
      mode,
      desiredBefore: 3,
      minSize: 1,
      maxSize: 4,
      instancesBefore: [OLD, ...PEERS],
      ...over,
    },
  };
}

/** The plan of a standalone replacement of the `api` instance. */
export function standalonePlan(): Plan {
  return {
    strategy: 'standalone',
    detail: 'standalone',
    disruption: 0,
    oldTargets: [{ targetGroupArn: HAND_TG, port: 8080 }],
    drainTargets: [{ targetGroupArn: HAND_TG, port: 8080 }],
    replacementTargetGroups: [HAND_TG],
    drainSeconds: 30,
    standalone: {
      subnetId: SUBNET,
      clientToken: 'c'.repeat(64),
      tagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'api' }] }],
    },
  };
}

/** A lease as AcquireLease returns it. */
export function lease(groupLocked = false): NonNullable<MachineData['lease']> {
  return { holder: EXECUTION, items: ['slot#0'], expiresAt: 1_750_000_000, groupLocked };
}

/** What RaiseDesiredCapacity returned: the group raised from 3 to 4, its members then. */
export function surged(desiredBefore = 3): NonNullable<MachineData['surge']> {
  return {
    mode: 'surge',
    desiredBefore,
    raisedTo: desiredBefore + 1,
    instancesBefore: [OLD, ...PEERS],
    at: '2025-06-15T12:02:00.000Z',
  };
}

/** A caught error as the state machine records it (a Lambda error's cause is JSON). */
export function caught(name: string, message = 'why'): { Error: string; Cause: string } {
  return { Error: name, Cause: JSON.stringify({ errorType: name, errorMessage: message }) };
}
