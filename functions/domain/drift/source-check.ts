/**
 * The anti-loop check: would a fresh instance from the current source be compliant?
 *
 * Phoenix replaces a drifted instance with a fresh one built from the fleet's launch template
 * (plus, in an Auto Scaling group, the group's propagated tags). If that source itself
 * contradicts Git — the template tags `Owner: team-a` while Git declares `team-b`, the group
 * propagates a tag under the strict prefix, the template's image is not the one it names —
 * the replacement would be drifted the moment it starts, Phoenix would replace it again, and
 * again: a loop that churns the fleet forever and fixes nothing. So before replacing, the
 * engine is run on the instance the source *would* produce. If that instance is drifted,
 * Phoenix does not replace; it reports "source drift", which only a human can fix (in Git or
 * in the template), and the reasons say what to fix.
 */
import { InvalidInputError } from '../errors';
import type { CompiledFleet, DriftReason, InstanceFacts, LaunchTemplateFacts, Tags } from '../model';
import { evaluateDrift } from './engine';

/**
 * The tags Phoenix sets when it launches a standalone instance itself: the declared tags,
 * and the fleet's selector tags so the replacement stays in the fleet. The selector wins a
 * conflict, which the source check then reports as a `tag-value` source drift (fix Git).
 * Auto Scaling fleets get none: the group launches their instances.
 */
export function standaloneLaunchTags(fleet: CompiledFleet): Tags {
  if (fleet.match.kind !== 'tags') return {};
  return { ...fleet.tags, ...fleet.match.tags };
}

/**
 * The facts a fresh instance launched now from `template` would have.
 *
 * Tags, later sources winning as AWS merges them: the template's instance tags; then, for an
 * Auto Scaling fleet, the group's propagated tags (`propagatedTags`) and the group name tag;
 * for a standalone fleet, the tags Phoenix sets at launch ({@link standaloneLaunchTags};
 * `propagatedTags` is ignored). EC2 adds the launch template id and version tags.
 */
export function freshInstanceFrom(
  template: LaunchTemplateFacts,
  fleet: CompiledFleet,
  propagatedTags: Tags,
  now: Date,
): InstanceFacts {
  const version = String(template.version);
  const group = fleet.match.kind === 'autoScalingGroup' ? fleet.match.autoScalingGroup : undefined;
  const launchTags =
    group === undefined
      ? standaloneLaunchTags(fleet)
      : { ...propagatedTags, 'aws:autoscaling:groupName': group };
  const facts: InstanceFacts = {
    instanceId: `fresh instance from ${template.id} version ${version}`,
    state: 'running',
    tags: {
      ...template.instanceTags,
      ...launchTags,
      'aws:ec2launchtemplate:id': template.id,
      'aws:ec2launchtemplate:version': version,
    },
    securityGroupIds: [...template.securityGroupIds],
    launchTime: now.toISOString(),
    launchTemplate: { id: template.id, version },
  };
  if (template.imageId !== undefined) facts.imageId = template.imageId;
  if (template.instanceType !== undefined) facts.instanceType = template.instanceType;
  if (group !== undefined) facts.autoScalingGroup = group;
  return facts;
}

export interface SourceCheckInput {
  fleet: CompiledFleet;
  /** The fleet's launch template, resolved to the version replacements are pinned to. */
  template: LaunchTemplateFacts;
  /** Tags the fleet's Auto Scaling group propagates at launch (`{}` for standalone fleets). */
  propagatedTags: Tags;
  now: Date;
  /**
   * The launch template version the Auto Scaling group itself launches from, resolved, when it
   * is not `template`: a group configured with another template or version would build every
   * replacement from that one. Omitted: the group launches `template`.
   */
  groupTemplate?: LaunchTemplateFacts;
}

export type SourceCheck = { ok: true } | { ok: false; reasons: DriftReason[] };

/**
 * Run the engine on {@link freshInstanceFrom} the current source. `ok: false` is source
 * drift: do not replace; report the reasons (fix Git or the template).
 *
 * @throws InvalidInputError when `template` is not the launch template the fleet declares
 *   (a caller's mix-up: no answer would be safe to act on).
 */
export function checkSource(input: SourceCheckInput): SourceCheck {
  const { fleet, template, propagatedTags, now, groupTemplate } = input;
  const source =
    fleet.match.kind === 'autoScalingGroup' && groupTemplate !== undefined ? groupTemplate : template;
  const fresh = freshInstanceFrom(source, fleet, propagatedTags, now);
  const verdict = evaluateDrift({ instance: fresh, fleet, template, now });
  switch (verdict.status) {
    case 'drifted':
      return { ok: false, reasons: verdict.reasons };
    case 'in-sync':
      return { ok: true };
    case 'not-applicable':
      // Only reachable when `template` is not the fleet's template: a caller's mix-up, and
      // replacing from a template the fleet does not declare is exactly what must not happen.
      throw new InvalidInputError(`cannot check the source of fleet ${fleet.name}: ${verdict.why}`);
  }
}
