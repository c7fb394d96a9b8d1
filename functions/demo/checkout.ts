/**
 * The demo's second act: team payments' checkout service, released through staging first.
 *
 * Two Auto Scaling groups from two launch templates (`checkout-staging`, `checkout`), each
 * watched by a CloudWatch alarm on its 5xx rate. examples/demo/phoenix.yaml declares both
 * fleets with a `rollout:` block: a canary of one, a 30-minute bake with the alarm polled,
 * and production (`checkout`) taking an image only after staging runs it, baked.
 *
 * A new build reaches both templates at once (a pipeline publishes one image everywhere):
 * the first is bad (it boots, passes every instance check, and answers 500s), the second is
 * its fix. What stops the bad one is the alarm during the canary's bake, not the instance.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  type CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  addLaunchTemplateVersion,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  setDefaultVersion,
} from '../../emulator/seed';

/** The checkout images of examples/demo/images.json. */
export const CHECKOUT_IMAGES = {
  /** What both fleets run when the demo begins. */
  current: 'ami-0d3e0a1b2c3d4e506',
  /** Boots fine, answers 5xx: the canary's alarm catches it. */
  broken: 'ami-0d3e0a1b2c3d4e507',
  /** The fix. */
  fixed: 'ami-0d3e0a1b2c3d4e508',
} as const;

export const CHECKOUT_IMAGE_NAMES: Readonly<Record<string, string>> = {
  [CHECKOUT_IMAGES.current]: 'checkout-2025.06.4',
  [CHECKOUT_IMAGES.broken]: 'checkout-2025.07.1',
  [CHECKOUT_IMAGES.fixed]: 'checkout-2025.07.2',
};

/** One checkout environment: its template, group and alarm. */
export interface CheckoutFleet {
  fleet: string;
  template: { id: string; name: string };
  group: string;
  alarm: string;
  size: number;
}

export interface CheckoutEstate {
  staging: CheckoutFleet;
  production: CheckoutFleet;
}

interface Clients {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  cloudwatch: Pick<CloudWatchClient, 'send'>;
}

const INSTANCE_TYPE = 't3.small';

async function seedEnvironment(
  clients: Clients,
  network: SeededNetwork,
  spec: { fleet: string; environment: string; size: number; securityGroupId: string | undefined },
): Promise<CheckoutFleet> {
  const template = await seedLaunchTemplate(clients.ec2, {
    name: spec.fleet,
    versions: [
      {
        imageId: CHECKOUT_IMAGES.current,
        instanceType: INSTANCE_TYPE,
        securityGroupIds: spec.securityGroupId === undefined ? [] : [spec.securityGroupId],
      },
    ],
  });
  const group = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name: spec.fleet,
    launchTemplate: { id: template.id, version: '$Default' },
    min: spec.size,
    // Room for a surge of one: a replacement launches before its old instance goes.
    max: spec.size + 1,
    desired: spec.size,
    subnetIds: [...network.subnetIds],
    tags: { Owner: 'team-payments', Environment: spec.environment },
  });
  const alarm = `${spec.fleet}-5xx`;
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: alarm,
      AlarmDescription: `5xx responses of ${spec.fleet} above 1% for 3 minutes`,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Dimensions: [{ Name: 'TargetGroup', Value: `targetgroup/${spec.fleet}/0123456789abcdef` }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 3,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  await setAlarm(clients.cloudwatch, alarm, 'OK', 'Threshold Crossed: 0 5xx responses in the last 3 minutes');
  return {
    fleet: spec.fleet,
    template: { id: template.id, name: template.name },
    group: group.name,
    alarm,
    size: spec.size,
  };
}

/** Seeds both environments, every instance running the current build and both alarms OK. */
export async function seedCheckout(clients: Clients, network: SeededNetwork): Promise<CheckoutEstate> {
  const securityGroupId = network.securityGroupIds[1];
  const staging = await seedEnvironment(clients, network, {
    fleet: 'checkout-staging',
    environment: 'staging',
    size: 2,
    securityGroupId,
  });
  const production = await seedEnvironment(clients, network, {
    fleet: 'checkout',
    environment: 'prod',
    size: 4,
    securityGroupId,
  });
  return { staging, production };
}

/** What the alarm says now: CloudWatch's own call, as a metric crossing its threshold would. */
export async function setAlarm(
  cloudwatch: Pick<CloudWatchClient, 'send'>,
  alarm: string,
  state: 'OK' | 'ALARM',
  reason: string,
): Promise<void> {
  await cloudwatch.send(
    new SetAlarmStateCommand({ AlarmName: alarm, StateValue: state, StateReason: reason }),
  );
}

/**
 * A pipeline publishes `imageId` to both checkout templates as their new default version (one
 * build, every environment): the returned versions are what each fleet now declares.
 */
export async function publishBuild(
  ec2: Pick<EC2Client, 'send'>,
  estate: CheckoutEstate,
  imageId: string,
  securityGroupId: string | undefined,
): Promise<{ staging: number; production: number }> {
  const publish = async (fleet: CheckoutFleet): Promise<number> => {
    const version = await addLaunchTemplateVersion(ec2, {
      id: fleet.template.id,
      version: {
        imageId,
        instanceType: INSTANCE_TYPE,
        securityGroupIds: securityGroupId === undefined ? [] : [securityGroupId],
      },
      description: `checkout build ${CHECKOUT_IMAGE_NAMES[imageId] ?? imageId}`,
    });
    await setDefaultVersion(ec2, { id: fleet.template.id, version });
    return version;
  };
  return { staging: await publish(estate.staging), production: await publish(estate.production) };
}
