/**
 * The demo account's estate, as two teams would have built it: team storefront's web tier
 * (an Auto Scaling group behind a target group, one member excluded while someone debugs
 * it) and its reporting host (a standalone instance from a launch template, behind its own
 * target group); team payments' API (another Auto Scaling group); and a bastion launched by
 * hand years ago that no fleet declares.
 *
 * Names match examples/demo/phoenix.yaml; images come from examples/demo/images.json (the
 * emulator's image catalogue for the demo).
 */

import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, type EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  registerTargets,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
} from '../../emulator/seed';
import { PhoenixError } from '../domain/errors';

/** The images of examples/demo/images.json, by what they are. */
export const DEMO_IMAGES = {
  storefrontWeb: 'ami-0d3e0a1b2c3d4e501',
  storefrontReports: 'ami-0d3e0a1b2c3d4e502',
  paymentsApi: 'ami-0d3e0a1b2c3d4e503',
  /** The payments team's next build: the new launch template version uses it. */
  paymentsApiNext: 'ami-0d3e0a1b2c3d4e504',
  amazonLinux2019: 'ami-0d3e0a1b2c3d4e505',
} as const;

/** The image catalogue moto loads for the demo (`MOTO_AMIS_PATH`). */
export const DEMO_IMAGES_FILE = new URL('../../examples/demo/images.json', import.meta.url);
/** The desired state of the demo account. */
export const DEMO_DESIRED_STATE_FILE = new URL('../../examples/demo/phoenix.yaml', import.meta.url);

export const DECLARED = {
  storefront: { Owner: 'team-storefront', Environment: 'prod' },
  payments: { Owner: 'team-payments', Environment: 'prod' },
} as const;

export interface DemoTemplate {
  id: string;
  name: string;
}

export interface DemoEstate {
  network: SeededNetwork;
  web: {
    template: DemoTemplate;
    group: string;
    targetGroupArn: string;
    instanceIds: string[];
    excluded: string;
  };
  reports: { template: DemoTemplate; targetGroupArn: string; instanceId: string };
  payments: { template: DemoTemplate; group: string; targetGroupArn: string; instanceIds: string[] };
  bastion: string;
}

interface Clients {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  elbv2: Pick<ElasticLoadBalancingV2Client, 'send'>;
}

/** Builds the estate; every instance is running and registered where it serves when this returns. */
export async function seedDemoEstate(clients: Clients): Promise<DemoEstate> {
  const network = await seedNetwork(clients.ec2, { name: 'demo', cidr: '10.20.0.0/16' });
  const [webSg, paymentsSg] = network.securityGroupIds;

  // Team storefront's web tier.
  const webTemplate = await seedLaunchTemplate(clients.ec2, {
    name: 'storefront-web',
    versions: [{ imageId: DEMO_IMAGES.storefrontWeb, instanceType: 't3.small', securityGroupIds: [webSg] }],
  });
  const webTargets = await seedTargetGroup(clients.elbv2, { name: 'storefront-web', vpcId: network.vpcId });
  const web = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name: 'storefront-web',
    launchTemplate: { id: webTemplate.id, version: '$Default' },
    min: 2,
    max: 4,
    desired: 3,
    subnetIds: [...network.subnetIds],
    tags: { ...DECLARED.storefront },
    targetGroupArns: [webTargets],
  });
  // The emulator registers group members with its target groups only on later scaling.
  await registerTargets(clients.elbv2, webTargets, web.instanceIds, 80);
  const excluded = web.instanceIds.at(-1);
  if (excluded === undefined) throw new PhoenixError('the demo web tier launched no instance');
  await clients.ec2.send(
    new CreateTagsCommand({ Resources: [excluded], Tags: [{ Key: 'phoenix:skip', Value: 'true' }] }),
  );

  // Team storefront's reporting host: standalone, from its own template.
  const reportsTemplate = await seedLaunchTemplate(clients.ec2, {
    name: 'storefront-reports',
    versions: [
      { imageId: DEMO_IMAGES.storefrontReports, instanceType: 't3.medium', securityGroupIds: [webSg] },
    ],
  });
  const [reports] = await seedStandaloneInstances(clients.ec2, {
    launchTemplate: { id: reportsTemplate.id, version: 1 },
    count: 1,
    subnetId: network.subnetIds[0],
    tags: { App: 'reports', ...DECLARED.storefront },
  });
  if (reports === undefined) throw new PhoenixError('the demo reporting host did not launch');
  const reportsTargets = await seedTargetGroup(clients.elbv2, {
    name: 'storefront-reports',
    vpcId: network.vpcId,
    port: 8080,
  });
  await registerTargets(clients.elbv2, reportsTargets, [reports], 8080);

  // Team payments' API.
  const paymentsTemplate = await seedLaunchTemplate(clients.ec2, {
    name: 'payments-api',
    versions: [
      { imageId: DEMO_IMAGES.paymentsApi, instanceType: 't3.small', securityGroupIds: [paymentsSg] },
    ],
  });
  const paymentsTargets = await seedTargetGroup(clients.elbv2, {
    name: 'payments-api',
    vpcId: network.vpcId,
    port: 8443,
  });
  const payments = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name: 'payments-api',
    launchTemplate: { id: paymentsTemplate.id, version: '$Default' },
    min: 1,
    max: 3,
    desired: 2,
    subnetIds: [...network.subnetIds],
    tags: { ...DECLARED.payments },
    targetGroupArns: [paymentsTargets],
  });
  await registerTargets(clients.elbv2, paymentsTargets, payments.instanceIds, 8443);

  // The bastion nobody remembers launching: no template, no fleet.
  const launched = await clients.ec2.send(
    new RunInstancesCommand({
      ImageId: DEMO_IMAGES.amazonLinux2019,
      InstanceType: 't3.nano',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: network.subnetIds[1],
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'Name', Value: 'legacy-bastion' },
            { Key: 'Owner', Value: 'ops' },
          ],
        },
      ],
    }),
  );
  const bastion = launched.Instances?.[0]?.InstanceId;
  if (bastion === undefined) throw new PhoenixError('the demo bastion did not launch');

  return {
    network,
    web: {
      template: { id: webTemplate.id, name: webTemplate.name },
      group: web.name,
      targetGroupArn: webTargets,
      instanceIds: web.instanceIds,
      excluded,
    },
    reports: {
      template: { id: reportsTemplate.id, name: reportsTemplate.name },
      targetGroupArn: reportsTargets,
      instanceId: reports,
    },
    payments: {
      template: { id: paymentsTemplate.id, name: paymentsTemplate.name },
      group: payments.name,
      targetGroupArn: paymentsTargets,
      instanceIds: payments.instanceIds,
    },
    bastion,
  };
}
