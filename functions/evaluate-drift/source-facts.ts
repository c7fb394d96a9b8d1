/**
 * What a fresh instance of a fleet would be built from, read for the gate: the anti-loop
 * check (`checkSource`) over the fleet's template and, for an Auto Scaling fleet, the
 * group's own template version and propagated tags. Shared by the evaluator and
 * `phoenix plan`, so both see the source the remediation's recheck sees.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { sourceOfGroup } from '../aws/inventory';
import { checkSource } from '../domain/drift/source-check';
import { PhoenixError } from '../domain/errors';
import type { SourceFact } from '../domain/gate/facts';
import type { CompiledFleet, LaunchTemplateFacts } from '../domain/model';

/**
 * The source fact of a fleet whose template resolved to `template`. `group` describes the
 * fleet's Auto Scaling group (asked only for an Auto Scaling fleet); undefined when there is
 * no such group. A source Phoenix cannot check (no group, a template the group names that
 * cannot be resolved) is a fact, `unchecked`; an AWS failure is thrown, to be retried.
 */
export async function readSource(
  ec2: Pick<EC2Client, 'send'>,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts,
  now: Date,
  group: () => Promise<AutoScalingGroup | undefined>,
): Promise<SourceFact> {
  try {
    if (fleet.match.kind !== 'autoScalingGroup') {
      return { kind: 'checked', check: checkSource({ fleet, template, propagatedTags: {}, now }) };
    }
    const name = fleet.match.autoScalingGroup;
    const described = await group();
    if (described === undefined)
      return { kind: 'unchecked', why: `Auto Scaling group ${name} does not exist` };
    // What the group itself launches: its tags and its own template version, which may not
    // be the one Git declares (the recheck would refuse to replace from it anyway).
    const source = await sourceOfGroup(ec2, described, { spec: fleet.launchTemplate, facts: template });
    if (source.template === undefined) return { kind: 'launch-configuration', group: name };
    const check = checkSource({
      fleet,
      template,
      propagatedTags: source.propagatedTags,
      now,
      groupTemplate: source.template,
    });
    return { kind: 'checked', check };
  } catch (error) {
    // A template mix-up or one the group names that cannot be resolved: nothing is replaced.
    if (error instanceof PhoenixError) return { kind: 'unchecked', why: error.message };
    throw error;
  }
}
