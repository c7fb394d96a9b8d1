/**
 * The drift engine: `(instance facts, fleet, launch template facts, now) → verdict`.
 *
 * Pure and total: every input gives a verdict, never an exception, so the same function
 * serves the Config rule, the EventBridge fast path, the state machine's recheck, the source
 * check and `phoenix plan`.
 */
import type { CompiledFleet, DriftReason, InstanceFacts, LaunchTemplateFacts, Verdict } from '../model';
import { compareReasons, fingerprintOf } from './fingerprint';
import { ALL_RULES, DESIRED_STATE_RULES, type DriftRule, type RuleContext } from './rules';

export interface DriftInput {
  instance: InstanceFacts;
  fleet: CompiledFleet;
  /** The fleet's launch template version resolved to a number; undefined when it could not be resolved. */
  template: LaunchTemplateFacts | undefined;
  now: Date;
}

/** States in which an instance is on its way out: replacing it would replace nothing. */
const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);

function describeSpec(fleet: CompiledFleet): string {
  const { id, name, version } = fleet.launchTemplate;
  return `launch template ${name ?? id ?? '(unnamed)'} version ${version}`;
}

/**
 * Why `template` is not the one the fleet declares, if it is not. Judging against the wrong
 * template would call a whole fleet drifted, so a mix-up by the caller is refused here.
 */
function templateMismatch(fleet: CompiledFleet, template: LaunchTemplateFacts): string | undefined {
  const spec = fleet.launchTemplate;
  if (spec.id !== undefined && spec.id !== template.id) {
    return `the launch template facts are for ${template.id}, but fleet ${fleet.name} declares ${spec.id}`;
  }
  if (spec.name !== undefined && spec.name !== template.name) {
    return `the launch template facts are for ${template.name}, but fleet ${fleet.name} declares ${spec.name}`;
  }
  if (typeof spec.version === 'number' && spec.version !== template.version) {
    return `the launch template facts are for version ${template.version}, but fleet ${fleet.name} pins version ${spec.version}`;
  }
  return undefined;
}

function runRules(rules: readonly DriftRule[], ctx: RuleContext): DriftReason[] {
  return rules.flatMap((rule) => rule(ctx)).sort(compareReasons);
}

function drifted(fleet: CompiledFleet, reasons: DriftReason[]): Verdict {
  return { status: 'drifted', fleet: fleet.name, reasons, fingerprint: fingerprintOf(reasons) };
}

/**
 * Judge one instance against the fleet it belongs to (see `findFleet` for which fleet that
 * is, and for exclusions: this function assumes the instance is a member).
 *
 * - `not-applicable` when the instance is shutting down or terminated, or when the template
 *   facts are for another template than the fleet declares.
 * - Without template facts (the template was deleted, or cannot be resolved), the checks
 *   whose expectations come from Git alone still run (declared tags, maximum age): a tag
 *   changed by hand is drift whatever the template says, and recording it is worth more
 *   than silence. If they find drift the verdict is `drifted` with those reasons only;
 *   otherwise `not-applicable`, because the instance cannot be called in sync without the
 *   template. Acting on such a verdict is still safe: remediation re-resolves the template
 *   and refuses to replace from a source it cannot check.
 * - Otherwise `in-sync`, or `drifted` with every reason in canonical order (kind, then field)
 *   and the fingerprint of those reasons.
 */
export function evaluateDrift(input: DriftInput): Verdict {
  const { instance, fleet, template, now } = input;
  if (GONE_STATES.has(instance.state)) {
    return {
      status: 'not-applicable',
      fleet: fleet.name,
      why: `instance ${instance.instanceId} is ${instance.state}: there is nothing left to replace`,
    };
  }

  if (template === undefined) {
    const reasons = runRules(DESIRED_STATE_RULES, { instance, fleet, template, now });
    if (reasons.length > 0) return drifted(fleet, reasons);
    return {
      status: 'not-applicable',
      fleet: fleet.name,
      why: `${describeSpec(fleet)} could not be resolved: the instance cannot be judged against it`,
    };
  }

  const mismatch = templateMismatch(fleet, template);
  if (mismatch !== undefined) return { status: 'not-applicable', fleet: fleet.name, why: mismatch };

  const reasons = runRules(ALL_RULES, { instance, fleet, template, now });
  return reasons.length === 0 ? { status: 'in-sync', fleet: fleet.name } : drifted(fleet, reasons);
}
