/**
 * Who belongs to a fleet's rollout, and which fleets have rollouts at all. Pure.
 *
 * A rollout is one source change of one fleet: its launch template version and the image that
 * version launches. An instance is a member of the fleet's current rollout when its drift
 * includes the source: it was not launched from that version, or it runs another image. Any
 * other drift (a tag edited by hand, a security group changed) is a single drift: not a
 * member, but gated by the fleet's alarms all the same
 * (docs/adr/0031-rollout-admission-on-the-lease.md).
 */
import type { RolloutPolicy } from '../model';

/** The source a rollout rolls: what the fleet's template version launches now. */
export interface SourceOfFleet {
  templateId: string;
  version: number;
  imageId?: string;
}

/** What membership reads of an instance. */
export interface InstanceSource {
  imageId?: string;
  launchTemplate?: { id: string; version: string };
}

/**
 * Whether the fleet's replacements go through rollout stages: its policy asks for anything
 * beyond the built-in defaults (a canary, a bake, alarms, a failure budget, an approval, a
 * promotion). A fleet without `rollout:` replaces as it always has: no rollout item, no
 * CloudWatch call, today's messages.
 */
export function governsRollout(policy: RolloutPolicy): boolean {
  return (
    policy.canary !== undefined ||
    policy.bakeMinutes > 0 ||
    policy.alarms.length > 0 ||
    policy.maxFailures > 0 ||
    policy.approval === 'manual' ||
    policy.after !== undefined
  );
}

/** Whether `instance` runs the fleet's source: launched from its template version and running its image. */
export function onSource(instance: InstanceSource, source: SourceOfFleet): boolean {
  const template = instance.launchTemplate;
  if (template === undefined || template.id !== source.templateId) return false;
  if (template.version !== String(source.version)) return false;
  return source.imageId === undefined || instance.imageId === source.imageId;
}

/** Whether `instance`'s drift includes the source: it is a member of the fleet's rollout. */
export function isRolloutMember(instance: InstanceSource, source: SourceOfFleet): boolean {
  return !onSource(instance, source);
}

/** Waves for `members` under a budget of `perWave` at once (at least one per wave). */
export function wavesOf(members: number, perWave: number): number {
  return members <= 0 ? 0 : Math.ceil(members / Math.max(1, perWave));
}
