/**
 * Standalone replacements as IAM decides them: the launch templates teams really write (an
 * image resolved from Systems Manager, a placement group, a capacity reservation, Spot, a
 * licence configuration, a snapshot, an instance profile) each make RunInstances ask IAM for
 * more than an instance, and the state machine's role must hold every one of those grants.
 * The emulator accepts all of these launches whatever the policy says; the IAM gate
 * (test/helpers/iam) is what fails a missing grant here, as AWS would.
 */
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  ModifyLaunchTemplateCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  registerTargets,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
} from '../../emulator/seed';
import { describeInstances } from '../../functions/aws/inventory';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { testClientConfig } from '../helpers/emulator';
import { assertNoDenials, takeDenials } from '../helpers/iam/gate';
import { desiredState, type TestAccount, testAccount } from './harness';

let account: TestAccount;
let images: string[] = [];
let fleets = 0;

beforeAll(async () => {
  account = await testAccount();
  images = await defaultImageIds(account.clients.ec2, 2);
});

/** A fleet `reports-N` (tag App) whose template is v1 → v2 by instance type, the instance launched from v1. */
async function standaloneFleet(
  extras: (network: { subnetIds: string[] }) => Promise<RequestLaunchTemplateData>,
) {
  fleets += 1;
  const name = `reports-${fleets}`;
  const network = await seedNetwork(account.clients.ec2, { name, cidr: `10.${fleets}.0.0/16` });
  const extra = await extras({ subnetIds: [...network.subnetIds] });
  const data = (instanceType: 't3.micro' | 't3.small'): RequestLaunchTemplateData => ({
    ImageId: images[0],
    InstanceType: instanceType,
    SecurityGroupIds: [network.securityGroupIds[0]],
    ...extra,
  });
  const created = await account.clients.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-lt`,
      LaunchTemplateData: data('t3.micro'),
    }),
  );
  const templateId = created.LaunchTemplate?.LaunchTemplateId ?? '';
  const [instanceId = ''] = await seedStandaloneInstances(account.clients.ec2, {
    launchTemplate: { id: templateId, version: 1 },
    count: 1,
    subnetId: network.subnetIds[1],
    tags: { App: name },
  });
  await account.clients.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: data('t3.small'),
    }),
  );
  await account.clients.ec2.send(
    new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: '2' }),
  );
  const targetGroupArn = await seedTargetGroup(account.clients.elbv2, {
    name: `${name}-tg`,
    vpcId: network.vpcId,
  });
  await registerTargets(account.clients.elbv2, targetGroupArn, [instanceId], 8080);
  const state: CompiledDesiredState = desiredState(`
version: 1
defaults: { mode: enforce, budget: { maxConcurrent: 1, minHealthyPercent: 0 } }
fleets:
  ${name}:
    match: { tags: { App: ${name} } }
    launchTemplate: { name: ${name}-lt, version: $Default }
`);
  return { name, instanceId, state };
}

/** Remediates the fleet's instance; returns the run and the replacement's facts. */
async function replace(
  fleet: Awaited<ReturnType<typeof standaloneFleet>>,
  options: Parameters<TestAccount['remediate']>[2] = {},
) {
  const input = await account.inputFor(fleet.state, fleet.instanceId);
  const result = await account.remediate(input, fleet.state, options);
  const replacementId = (result.output as { replacementId?: string } | undefined)?.replacementId;
  const [replacement] =
    replacementId === undefined ? [] : await describeInstances(account.clients.ec2, [replacementId]);
  return { result, replacement };
}

describe('a grant taken out of the synthesized policy', () => {
  it('fails the scenario with the role, the action, the resource and the statement that was missing', async () => {
    const fleet = await standaloneFleet(async () => ({}));

    const { result } = await replace(fleet, {
      withoutGrant: { principal: 'remediation-steps', action: 'ec2:RunInstances' },
    });

    // The launch was refused as AWS refuses it (UnauthorizedOperation, which no retry can fix),
    // so the execution rolled back instead of replacing.
    expect(result.status).toBe('FAILED');
    expect(result.events).toContainEqual(
      expect.objectContaining({
        type: 'StateFailed',
        state: 'LaunchStandaloneReplacement',
        error: 'LaunchRejectedError',
      }),
    );
    // And the test that made the call fails, saying exactly what is missing.
    expect(() => assertNoDenials()).toThrow(
      new RegExp(
        [
          'IAM would deny 1 call that the emulator accepted',
          "✗ the remediation steps function's role \\(PhoenixRemediationSteps\\w+\\) may not ec2:RunInstances on arn:aws:ec2:us-east-1:123456789012:instance/\\*",
          'call: +ec2:RunInstances by remediation-steps — for the instance it creates',
          'decision: +implicitly denied: no statement of the role allows it',
          'missing: +\\{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:us-east-1:123456789012:instance/\\*"\\}',
        ].join('[\\s\\S]*'),
      ),
    );
  });
});

describe('RunInstances from the launch templates teams write', () => {
  it('resolves an image id from Systems Manager (resolve:ssm:), which IAM asks as ssm:GetParameters', async () => {
    const ssm = new SSMClient(testClientConfig());
    await ssm.send(
      new PutParameterCommand({
        Name: '/phoenix/reports/ami',
        Type: 'String',
        Value: images[1],
        DataType: 'aws:ec2:image',
      }),
    );
    const fleet = await standaloneFleet(async () => ({ ImageId: 'resolve:ssm:/phoenix/reports/ami' }));

    const { result, replacement } = await replace(fleet);

    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { outcome: 'succeeded' } });
    expect(replacement).toMatchObject({ state: 'running', instanceType: 't3.small', imageId: images[1] });
  });

  it.each<[string, (network: { subnetIds: string[] }) => Promise<RequestLaunchTemplateData>]>([
    // moto emulates neither placement groups nor capacity reservations, and launches from a
    // template without reading them: only IAM sees them here (docs/emulator.md).
    ['in a placement group', async () => ({ Placement: { GroupName: 'reports-spread' } })],
    [
      'into a capacity reservation',
      async () => ({
        CapacityReservationSpecification: {
          CapacityReservationTarget: { CapacityReservationId: 'cr-0123456789abcdef0' },
        },
      }),
    ],
    ['as Spot capacity', async () => ({ InstanceMarketOptions: { MarketType: 'spot' } })],
    [
      'under a licence configuration',
      async () => ({
        LicenseSpecifications: [
          {
            LicenseConfigurationArn:
              'arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef',
          },
        ],
      }),
    ],
    [
      'with a volume restored from a snapshot',
      async () => {
        const volume = await account.clients.ec2.send(
          new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 8 }),
        );
        const snapshot = await account.clients.ec2.send(
          new CreateSnapshotCommand({ VolumeId: volume.VolumeId }),
        );
        return {
          BlockDeviceMappings: [
            { DeviceName: '/dev/sdf', Ebs: { SnapshotId: snapshot.SnapshotId, VolumeSize: 8 } },
          ],
        };
      },
    ],
  ])('launches the replacement %s', async (_what, extras) => {
    const fleet = await standaloneFleet(extras);

    const { result, replacement } = await replace(fleet);

    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { outcome: 'succeeded' } });
    expect(replacement).toMatchObject({ state: 'running', instanceType: 't3.small' });
  });
});

describe('an instance profile in the launch template', () => {
  let roleArn = '';
  let profileArn = '';

  beforeAll(async () => {
    const iam = new IAMClient(testClientConfig());
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: 'reports-instance',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    roleArn = role.Role?.Arn ?? '';
    const profile = await iam.send(
      new CreateInstanceProfileCommand({ InstanceProfileName: 'reports-instance' }),
    );
    profileArn = profile.InstanceProfile?.Arn ?? '';
    await iam.send(
      new AddRoleToInstanceProfileCommand({
        InstanceProfileName: 'reports-instance',
        RoleName: 'reports-instance',
      }),
    );
  });

  it('is passed to EC2 when the deployment names its role (instanceRoleArns)', async () => {
    const fleet = await standaloneFleet(async () => ({ IamInstanceProfile: { Arn: profileArn } }));

    const { result, replacement } = await replace(fleet, { iam: { instanceRoleArns: [roleArn] } });

    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { outcome: 'succeeded' } });
    expect(replacement).toMatchObject({ state: 'running', instanceType: 't3.small' });
  });

  it('is refused (iam:PassRole) when the deployment does not name its role: synth warns of exactly this', async () => {
    const fleet = await standaloneFleet(async () => ({ IamInstanceProfile: { Arn: profileArn } }));

    const { result } = await replace(fleet);

    expect(result.status).toBe('FAILED');
    const denied = takeDenials();
    expect(new Set(denied.map((d) => `${d.principal} ${d.action} ${d.resource}`))).toEqual(
      new Set([`remediation-steps iam:PassRole ${roleArn}`]),
    );
    expect(denied[0]?.message).toContain(
      'the instance profile reports-instance carries the role reports-instance',
    );
  });
});
