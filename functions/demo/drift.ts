/**
 * Drift the way it happens in a real account: a tag edited by hand, a new launch template
 * version with a new image made the default by a pipeline, an instance type changed by
 * stopping, modifying and starting an instance. Each change is made with the real API,
 * and comes back with the events AWS would deliver for it (CloudTrail via EventBridge,
 * EC2 state changes), in the order they would arrive.
 */
import {
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  type EC2Client,
  ModifyInstanceAttributeCommand,
  ModifyLaunchTemplateCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  createLaunchTemplateVersionEvent,
  createTagsEvent,
  type EventBridgeEvent,
  instanceStateChangeEvent,
  modifyInstanceTypeEvent,
  modifyLaunchTemplateEvent,
  userArn,
} from '../../emulator/cloudtrail';
import { PhoenixError } from '../domain/errors';
import { DEMO_IMAGES, type DemoEstate } from './estate';

type Ec2 = Pick<EC2Client, 'send'>;

/** One thing someone does, and the event AWS delivers once it is done. */
export interface Action {
  /** What the evaluator receives, e.g. "CloudTrail CreateTags". */
  caption: string;
  /** Makes the change with the real API; resolves with the event AWS would deliver for it. */
  act: () => Promise<EventBridgeEvent>;
}

/** One change someone makes, as the actions it takes, in order. */
export interface Change {
  title: string;
  /** Who does it: the principal CloudTrail records. */
  principal: string;
  actions: Action[];
}

/** Alice "temporarily" re-tags a web server she is debugging. */
export function editTagByHand(ec2: Ec2, estate: DemoEstate): Change {
  const target = estate.web.instanceIds[0] ?? '';
  const principal = userArn('alice');
  return {
    title: `alice edits a tag by hand: Owner=alice-debugging on ${target} (web)`,
    principal,
    actions: [
      {
        caption: 'CloudTrail CreateTags',
        act: async () => {
          await ec2.send(
            new CreateTagsCommand({
              Resources: [target],
              Tags: [{ Key: 'Owner', Value: 'alice-debugging' }],
            }),
          );
          return createTagsEvent([target], { Owner: 'alice-debugging' }, { principal });
        },
      },
    ],
  };
}

/** The payments pipeline publishes a patched image as a new template version, then makes it the default. */
export function rollOutNewImage(ec2: Ec2, estate: DemoEstate): Change {
  const principal = userArn('ci-payments');
  const template = estate.payments.template;
  let version: number | undefined;
  return {
    title: `ci-payments publishes image payments-api-2025.06.2 as a new version of ${template.name}, then makes it the default`,
    principal,
    actions: [
      {
        caption: 'CloudTrail CreateLaunchTemplateVersion',
        act: async () => {
          const created = await ec2.send(
            new CreateLaunchTemplateVersionCommand({
              LaunchTemplateId: template.id,
              VersionDescription: 'payments-api 2025.06.2: TLS library patched',
              // The emulator ignores SourceVersion: the whole data is given.
              LaunchTemplateData: {
                ImageId: DEMO_IMAGES.paymentsApiNext,
                InstanceType: 't3.small',
                SecurityGroupIds: [estate.network.securityGroupIds[1]],
              },
            }),
          );
          version = created.LaunchTemplateVersion?.VersionNumber;
          if (version === undefined)
            throw new PhoenixError('the emulator created no launch template version');
          return createLaunchTemplateVersionEvent(template, version, { principal });
        },
      },
      {
        caption: 'CloudTrail ModifyLaunchTemplate',
        act: async () => {
          if (version === undefined) throw new PhoenixError('no new version to make the default');
          await ec2.send(
            new ModifyLaunchTemplateCommand({
              LaunchTemplateId: template.id,
              DefaultVersion: String(version),
            }),
          );
          return modifyLaunchTemplateEvent(template, version, { principal });
        },
      },
    ],
  };
}

async function waitForState(ec2: Ec2, instanceId: string, state: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const now = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    if (now === state) return;
    if (Date.now() > deadline)
      throw new PhoenixError(`${instanceId} is ${now ?? 'gone'}, not ${state}, after 30s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Bob gives the reporting host more memory the quick way: stop, change the type, start. */
export function resizeByHand(ec2: Ec2, estate: DemoEstate): Change {
  const principal = userArn('bob');
  const target = estate.reports.instanceId;
  return {
    title: `bob resizes ${target} (reports) by hand: stop, t3.medium → t3.large, start`,
    principal,
    actions: [
      {
        caption: 'CloudTrail ModifyInstanceAttribute',
        act: async () => {
          await ec2.send(new StopInstancesCommand({ InstanceIds: [target] }));
          await waitForState(ec2, target, 'stopped');
          await ec2.send(
            new ModifyInstanceAttributeCommand({ InstanceId: target, InstanceType: { Value: 't3.large' } }),
          );
          return modifyInstanceTypeEvent(target, 't3.large', { principal });
        },
      },
      {
        caption: 'EC2 state change (running)',
        act: async () => {
          await ec2.send(new StartInstancesCommand({ InstanceIds: [target] }));
          await waitForState(ec2, target, 'running');
          return instanceStateChangeEvent(target, 'running');
        },
      },
    ],
  };
}
