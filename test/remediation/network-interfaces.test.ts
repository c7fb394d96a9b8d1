import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  seedNetwork,
  seedStandaloneInstances,
  setDefaultVersion,
} from '../../emulator/seed';
import { describeInstances } from '../../functions/aws/inventory';
import { runRemediation } from '../../functions/local/step-functions/runner';
import { interfacesIn } from '../../functions/remediation/launch';
import { recording, type SentCommands } from '../helpers/launch-faults';
import { desiredState, type TestAccount, testAccount } from './harness';

// moto does not apply a network interface's security groups to the instance: the comparison
// of security groups is off here, the request is what this file checks.
const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
fleets:
  edge:
    match: { tags: { App: edge } }
    launchTemplate: { name: edge-lt, version: $Default }
    tags: { Owner: team-edge }
    checks: { securityGroups: false }
`);

describe('interfacesIn: the template’s network interfaces as RunInstances takes them', () => {
  it('puts the subnet into the primary interface and keeps every other setting and interface', () => {
    expect(
      interfacesIn(
        [
          { DeviceIndex: 0, Groups: ['sg-1'], AssociatePublicIpAddress: false, DeleteOnTermination: true },
          { DeviceIndex: 1, SubnetId: 'subnet-other', Groups: ['sg-2'], Description: 'backend' },
        ],
        'subnet-old',
      ),
    ).toEqual([
      {
        DeviceIndex: 0,
        SubnetId: 'subnet-old',
        Groups: ['sg-1'],
        AssociatePublicIpAddress: false,
        DeleteOnTermination: true,
      },
      { DeviceIndex: 1, SubnetId: 'subnet-other', Groups: ['sg-2'], Description: 'backend' },
    ]);
  });

  it('replaces a subnet the template names for the primary interface, and adds one if none is primary', () => {
    expect(interfacesIn([{ DeviceIndex: 0, SubnetId: 'subnet-template' }], 'subnet-old')).toEqual([
      { DeviceIndex: 0, SubnetId: 'subnet-old' },
    ]);
    expect(interfacesIn([{ DeviceIndex: 1, Groups: ['sg-2'] }], 'subnet-old')).toEqual([
      { DeviceIndex: 0, SubnetId: 'subnet-old' },
      { DeviceIndex: 1, Groups: ['sg-2'] },
    ]);
  });
});

describe('a standalone instance whose launch template defines network interfaces', () => {
  let account: TestAccount;
  let old: string;
  let subnetId: string;
  let securityGroupId: string;

  beforeAll(async () => {
    account = await testAccount();
    const network = await seedNetwork(account.clients.ec2, { name: 'edge' });
    subnetId = network.subnetIds[1] ?? '';
    securityGroupId = network.securityGroupIds[0] ?? '';
    const [oldImage = '', newImage = ''] = await defaultImageIds(account.clients.ec2, 2);
    const data = (imageId: string): RequestLaunchTemplateData => ({
      ImageId: imageId,
      InstanceType: 't3.micro',
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          Groups: [securityGroupId],
          AssociatePublicIpAddress: false,
          DeleteOnTermination: true,
          Description: 'primary',
        },
      ],
    });
    const created = await account.clients.ec2.send(
      new CreateLaunchTemplateCommand({ LaunchTemplateName: 'edge-lt', LaunchTemplateData: data(oldImage) }),
    );
    const id = created.LaunchTemplate?.LaunchTemplateId ?? '';
    [old = ''] = await seedStandaloneInstances(account.clients.ec2, {
      launchTemplate: { id, version: 1 },
      count: 1,
      subnetId,
      tags: { App: 'edge', Owner: 'team-edge' },
    });
    // The full data again: moto ignores SourceVersion.
    const next = await account.clients.ec2.send(
      new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: id, LaunchTemplateData: data(newImage) }),
    );
    await setDefaultVersion(account.clients.ec2, {
      id,
      version: next.LaunchTemplateVersion?.VersionNumber ?? 0,
    });
  });

  it('launches the replacement through the primary interface in the old subnet, never with an instance-level subnet', async () => {
    const input = await account.inputFor(STATE, old);
    const sent: SentCommands = [];

    const result = await runRemediation(input, {
      clients: { ...account.local, ec2: recording(account.local.ec2, sent) },
      deps: account.deps(STATE),
      waits: 'zero',
      hooks: account.hooks(),
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    // moto accepts an instance-level subnet beside a template's interfaces; EC2 answers
    // InvalidParameterCombination. So the request itself is what is checked.
    const launches = sent.filter((c) => c.command === 'RunInstancesCommand');
    expect(launches).toHaveLength(1);
    const request = launches[0]?.input as Record<string, unknown>;
    expect(request.SubnetId).toBeUndefined();
    expect(request.SecurityGroupIds).toBeUndefined();
    expect(request.NetworkInterfaces).toEqual([
      {
        DeviceIndex: 0,
        SubnetId: subnetId,
        Groups: [securityGroupId],
        AssociatePublicIpAddress: false,
        DeleteOnTermination: true,
        Description: 'primary',
      },
    ]);
    const replacementId = (result.output as { replacementId: string }).replacementId;
    const [replacement] = await describeInstances(account.clients.ec2, [replacementId]);
    expect(replacement).toMatchObject({ state: 'running', subnetId, launchTemplate: { version: '2' } });
  });
});
