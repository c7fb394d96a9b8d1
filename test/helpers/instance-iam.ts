/**
 * The instance-scoped part of Phoenix's synthesized IAM, applied to an EC2 client: moto checks
 * no IAM. Instance actions (terminate, tag, stop…) are allowed only on instances whose tags
 * satisfy one of the policy's condition blocks (`aws:ResourceTag/aws:autoscaling:groupName`
 * naming a declared group, or a tag fleet's selector tags), and denied on excluded ones,
 * exactly as `infra/parts/iam-scoping.ts` writes them. A refused call fails the way EC2 refuses
 * it: `UnauthorizedOperation`, HTTP 403.
 */
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  type EC2Client,
  RebootInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describeInstances } from '../../functions/aws/inventory';
import type { CompiledFleet, Tags } from '../../functions/domain/model';
import { exclusionConditions, fleetInstanceConditions } from '../../infra/parts/iam-scoping';
import { ec2Error } from './launch-faults';

type Condition = Record<string, Record<string, string | string[]>>;

function holds(condition: Condition, tags: Tags): boolean {
  return Object.entries(condition.StringEquals ?? {}).every(([key, expected]) => {
    const tag = tags[key.replace(/^aws:ResourceTag\//, '')];
    return tag !== undefined && (Array.isArray(expected) ? expected.includes(tag) : expected === tag);
  });
}

/** Calls IAM refused, for the test to assert on. */
export interface Denials {
  denied: Array<{ action: string; instanceId: string; tags: Tags }>;
}

const INSTANCE_ACTIONS = [
  TerminateInstancesCommand,
  StopInstancesCommand,
  RebootInstancesCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
];

/** `ec2` as Phoenix's role may use it, given the declared fleets. */
export function withInstanceIam(
  ec2: Pick<EC2Client, 'send'>,
  fleets: readonly CompiledFleet[],
): Pick<EC2Client, 'send'> & Denials {
  const allow = fleetInstanceConditions(fleets).map((b) => b.condition);
  const deny = exclusionConditions(fleets);
  const denied: Denials['denied'] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    if (INSTANCE_ACTIONS.some((Action) => command instanceof Action)) {
      const ids = (command.input.InstanceIds ?? command.input.Resources ?? []) as string[];
      // Tagging at launch (RunInstances' TagSpecifications) is not this path: instance ids only.
      for (const instance of await describeInstances(
        ec2,
        ids.filter((id) => id.startsWith('i-')),
      )) {
        const allowed =
          allow.some((c) => holds(c, instance.tags)) && !deny.some((c) => holds(c, instance.tags));
        if (!allowed) {
          const action = `ec2:${command.constructor.name.replace(/Command$/, '')}`;
          denied.push({ action, instanceId: instance.instanceId, tags: instance.tags });
          throw ec2Error(
            'UnauthorizedOperation',
            403,
            `You are not authorized to perform this operation: ${action} on ${instance.instanceId} (no declared fleet's tag condition holds)`,
          );
        }
      }
    }
    return ec2.send(command as never);
  };
  return { send, denied } as unknown as Pick<EC2Client, 'send'> & Denials;
}
