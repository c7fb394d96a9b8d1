/**
 * Building `phoenix plan`: a read-only sweep of the configured account, each instance judged
 * with the evaluator's own code (`Judge`, the drift engine) and each fleet's enforcement
 * decided by the gate (`domain/gate`) from the facts read here, so the plan is what the
 * deployed evaluator and the remediation would conclude.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { describeAutoScalingGroup, listFleetInstances } from '../../aws/inventory';
import { concurrencyLimit, concurrencyText } from '../../domain/budget';
import { autoScalingGroupOf } from '../../domain/drift/match';
import { estimatedRolloutSeconds, estimatedSeconds } from '../../domain/estimate';
import type { Blocker } from '../../domain/gate/blockers';
import { decide, type GateDecision } from '../../domain/gate/decide';
import type { GateFacts, GroupFact, QuarantineFact, TemplateFact } from '../../domain/gate/facts';
import { whyOf } from '../../domain/gate/messages';
import { headroomOf } from '../../domain/headroom';
import type { CompiledDesiredState, CompiledFleet, InstanceFacts } from '../../domain/model';
import { isWindowOpen, nextWindowOpening } from '../../domain/window';
import { Judge, type Judgement } from '../../evaluate-drift/judge';
import { readSource } from '../../evaluate-drift/source-facts';
import {
  type FleetEnforcement,
  type FleetPlan,
  type NotReplaceable,
  PLAN_SCHEMA_VERSION,
  type Plan,
  type Blocker as PlanBlocker,
  type PlanDeps,
  type PlannedInstance,
} from './model';
import { readFleetRollout } from './rollout';

export const EXIT_NO_DRIFT = 0;
export const EXIT_ERROR = 1;
export const EXIT_DRIFT = 2;

/**
 * The gate's fleet blockers as `blockedBy` names them (a launch configuration is a source that
 * cannot be checked). Keyed by the code as a string: the rollout's gate blockers
 * (`alarm-firing`, `rollout-waiting`) map here once the gate reports them, whatever else it
 * adds meanwhile.
 */
const PLAN_BLOCKER: Readonly<Record<string, PlanBlocker>> = {
  'mode-observe': 'mode-observe',
  'mode-notify': 'mode-notify',
  'template-unresolved': 'template-unresolved',
  'launch-configuration': 'source-unchecked',
  'source-unchecked': 'source-unchecked',
  'source-drift': 'source-drift',
  quarantined: 'quarantined',
  paused: 'paused',
  'alarm-firing': 'alarm-firing',
  'rollout-waiting': 'rollout-waiting',
};

/** The gate's blockers that make one drifted running instance not replaceable, as `notReplaceable` names them. */
const NOT_REPLACEABLE: ReadonlySet<string> = new Set<NotReplaceable['code']>([
  'not-in-service',
  'no-subnet',
  'no-launch-template',
  'pinned',
  'no-headroom',
]);

function isNotReplaceable(blocker: Blocker): blocker is Extract<Blocker, { code: NotReplaceable['code'] }> {
  return NOT_REPLACEABLE.has(blocker.code);
}

function planned(judgement: Judgement): PlannedInstance {
  const { instance } = judgement;
  const base = {
    instanceId: instance.instanceId,
    state: instance.state,
    notReplaceable: null,
    alsoSelectedBy: [],
  };
  if (judgement.kind === 'outside') {
    return { ...base, verdict: 'outside', fingerprint: null, reasons: [], why: judgement.why };
  }
  if (judgement.kind === 'excluded') {
    return { ...base, verdict: 'excluded', fingerprint: null, reasons: [], why: judgement.why };
  }
  const { verdict } = judgement;
  switch (verdict.status) {
    case 'in-sync':
      return { ...base, verdict: 'in-sync', fingerprint: null, reasons: [], why: null };
    case 'drifted':
      return {
        ...base,
        verdict: 'drifted',
        fingerprint: verdict.fingerprint,
        reasons: verdict.reasons,
        why: null,
      };
    case 'not-applicable':
      return {
        ...base,
        verdict: 'not-applicable',
        fingerprint: null,
        reasons: [],
        why: judgement.templateProblem ?? verdict.why,
      };
  }
}

/** One instance as a fleet lists it: its facts, its judgement, the other fleets that select it. */
interface Listed {
  instance: InstanceFacts;
  judgement: Judgement;
  alsoSelectedBy: PlannedInstance['alsoSelectedBy'];
}

function groupFactOf(group: AutoScalingGroup): GroupFact {
  return {
    name: group.AutoScalingGroupName ?? '',
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    members: (group.Instances ?? []).map((i) => {
      const member: { id: string; lifecycle?: string } = { id: i.InstanceId ?? '' };
      if (i.LifecycleState !== undefined) member.lifecycle = i.LifecycleState;
      return member;
    }),
  };
}

/** What the gate decides for one drifted instance of the fleet, with the fleet's facts. */
function decideInstance(
  fleetFacts: GateFacts,
  judgement: Judgement,
  group: GroupFact | undefined,
): GateDecision {
  const { instance } = judgement;
  const facts: GateFacts = {
    ...fleetFacts,
    instance: {
      instanceId: instance.instanceId,
      state: instance.state,
      placement: placementOf(instance),
      ...(judgement.kind === 'member' ? { verdict: judgement.verdict } : {}),
    },
  };
  if (group !== undefined) facts.group = group;
  return decide(facts);
}

function placementOf(instance: InstanceFacts): NonNullable<NonNullable<GateFacts['instance']>['placement']> {
  const placement: { subnetId?: string; launchedFromTemplate: boolean; autoScalingGroup?: string } = {
    launchedFromTemplate: instance.launchTemplate !== undefined,
  };
  if (instance.subnetId !== undefined) placement.subnetId = instance.subnetId;
  const group = autoScalingGroupOf(instance);
  if (group !== undefined) placement.autoScalingGroup = group;
  return placement;
}

/** The fleet's facts as the gate reads them: its template, its source, the switches (with `--table`). */
async function fleetFacts(
  fleet: CompiledFleet,
  judge: Judge,
  deps: PlanDeps,
  group: AutoScalingGroup | undefined,
): Promise<GateFacts> {
  const lookup = await judge.template(fleet);
  const template: TemplateFact = lookup.ok
    ? { ok: true, facts: lookup.facts }
    : { ok: false, why: lookup.why };
  const facts: GateFacts = { moment: 'plan', now: deps.now, match: { kind: 'member', fleet }, template };
  if (lookup.ok) {
    facts.source = await readSource(deps.ec2, fleet, lookup.facts, deps.now, async () => group);
    const quarantine = await deps.state?.getQuarantine(fleet.name, lookup.facts.id, lookup.facts.version);
    if (quarantine !== undefined) facts.quarantine = quarantine;
  }
  if (deps.state !== undefined) facts.pause = { paused: await deps.state.isPaused() };
  return facts;
}

function sourceDriftOf(facts: GateFacts): FleetEnforcement['sourceDrift'] {
  const source = facts.source;
  const result: FleetEnforcement['sourceDrift'] = {
    checked: false,
    drifted: false,
    reasons: [],
    problem: null,
  };
  if (source?.kind === 'checked') {
    result.checked = true;
    if (!source.check.ok) {
      result.drifted = true;
      result.reasons = source.check.reasons;
    }
  } else if (source?.kind === 'launch-configuration') {
    result.problem = whyOf({ code: 'launch-configuration', group: source.group });
  } else if (source?.kind === 'unchecked') {
    result.problem = source.why;
  }
  return result;
}

async function planFleet(
  desired: CompiledDesiredState,
  fleet: CompiledFleet,
  listed: readonly Listed[],
  judge: Judge,
  deps: PlanDeps,
): Promise<FleetPlan> {
  const group =
    fleet.match.kind === 'autoScalingGroup'
      ? await describeAutoScalingGroup(deps.autoScaling, fleet.match.autoScalingGroup)
      : undefined;
  const groupFact = group === undefined ? undefined : groupFactOf(group);
  const headroom =
    groupFact === undefined ? undefined : headroomOf(groupFact, fleet.budget.minHealthyPercent);
  const facts = await fleetFacts(fleet, judge, deps, group);

  let replacements = 0;
  const rows: PlannedInstance[] = listed.map(({ judgement, alsoSelectedBy }) => {
    const row = planned(judgement);
    row.alsoSelectedBy = alsoSelectedBy;
    if (row.verdict !== 'drifted') return row;
    const decision = decideInstance(facts, judgement, groupFact);
    // What the fleet's own blockers leave aside: why this instance could not be replaced anyway.
    const own = decision.blockers.find((b) => b.code === 'not-running' || isNotReplaceable(b));
    if (own !== undefined && isNotReplaceable(own)) row.notReplaceable = { code: own.code, why: whyOf(own) };
    // A closed window delays a replacement, it does not cancel it.
    if (decision.verdict === 'replace' || decision.verdict === 'wait') replacements += 1;
    return row;
  });
  rows.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));

  const blockedBy: PlanBlocker[] = [];
  for (const blocker of decide(facts).blockers) {
    const code = PLAN_BLOCKER[blocker.code];
    if (code !== undefined && !blockedBy.includes(code)) blockedBy.push(code);
  }
  const template = facts.template?.ok === true ? facts.template.facts : undefined;
  const quarantined: QuarantineFact | undefined = facts.quarantine;
  const drifted = rows.filter((r) => r.verdict === 'drifted');
  // The rollout lets its canary's remainder start, nothing while it waits, or leaves it to the budget.
  const lookup = await judge.template(fleet);
  const rollout = await readFleetRollout(
    desired,
    fleet,
    lookup.ok ? lookup.facts : undefined,
    { fleetSize: rows.length, drifted: drifted.length },
    deps,
  );
  for (const code of rollout.blockers) if (!blockedBy.includes(code)) blockedBy.push(code);
  const replaceable = replacements;
  if (rollout.admits !== undefined) replacements = Math.min(replacements, rollout.admits);
  // A percentage is of the fleet's current size; at MaxSize each replacement dips capacity by
  // one, so the budget also caps how many go at once.
  const maxConcurrent = concurrencyLimit(fleet.budget.maxConcurrent, rows.length);
  const atOnce = headroom?.kind === 'standby-first' ? Math.min(maxConcurrent, headroom.dips) : maxConcurrent;
  const waves = Math.ceil(replacements / atOnce);
  // A canary still to go: its waves, its bake, then the rest of what is replaceable in waves.
  const canaryFirst =
    replacements > 0 &&
    rollout.admits !== undefined &&
    (rollout.rollout.stage === 'none' || rollout.rollout.stage === 'canary');
  const estimate =
    replacements === 0
      ? 0
      : canaryFirst
        ? estimatedRolloutSeconds({
            canaryWaves: waves,
            bakeMinutes: fleet.rollout.bakeMinutes,
            waves: Math.ceil((replaceable - replacements) / atOnce),
            pace: { canary: replacements, rest: replaceable - replacements },
          })
        : estimatedSeconds(waves, { replacements });
  const opensAt = nextWindowOpening(fleet.window, deps.now);
  return {
    name: fleet.name,
    mode: fleet.mode,
    team: fleet.team,
    launchTemplate:
      template === undefined ? null : { id: template.id, name: template.name, version: template.version },
    launchTemplateProblem: facts.template?.ok === false ? facts.template.why : null,
    instances: rows,
    enforcement: {
      drifted: drifted.length,
      replacements,
      notReplaceable: drifted.filter((r) => r.notReplaceable !== null).length,
      waves,
      headroom: headroom?.kind ?? null,
      maxConcurrent,
      maxConcurrentDeclared: concurrencyText(fleet.budget.maxConcurrent),
      minHealthyPercent: fleet.budget.minHealthyPercent,
      window: {
        declared: fleet.window !== undefined,
        timezone: fleet.window?.timezone ?? null,
        openNow: isWindowOpen(fleet.window, deps.now),
        nextOpening: fleet.window === undefined ? null : opensAt.toISOString(),
      },
      sourceDrift: sourceDriftOf(facts),
      quarantine: deps.state === undefined ? 'unknown' : quarantined === undefined ? 'none' : 'quarantined',
      quarantineCause: quarantined === undefined ? null : `since ${quarantined.at}: ${quarantined.cause}`,
      paused: facts.pause?.paused ?? null,
      blockedBy,
      estimatedSeconds: estimate,
    },
    rollout: rollout.rollout,
  };
}

/** Why a fleet whose selector matches an instance does not govern it. */
function whyNotGoverning(other: CompiledFleet, instance: InstanceFacts, judgement: Judgement): string {
  const governs = judgement.kind === 'outside' ? undefined : judgement.fleet.name;
  const group = autoScalingGroupOf(instance);
  if (other.match.kind === 'tags' && group !== undefined) {
    return `fleet ${other.name}'s tags match too, but a tag fleet selects standalone instances only and this one is in Auto Scaling group ${group}${
      governs === undefined ? '' : `: fleet ${governs} governs it`
    }`;
  }
  return governs === undefined
    ? `fleet ${other.name} selects it too: with more than one fleet selecting it, Phoenix acts on none`
    : `fleet ${other.name} selects it too, but fleet ${governs} governs it`;
}

/**
 * Builds the plan: each fleet's instances (server-side filtered, paginated), each judged
 * once against all fleets as the evaluator does, and listed once: under the fleet that
 * governs it (an excluded one under the fleet that excludes it), or, when no fleet does,
 * under the first fleet whose selector found it. Other fleets whose selector found it are
 * named on its row with why they do not govern it.
 */
export async function buildPlan(desired: CompiledDesiredState, file: string, deps: PlanDeps): Promise<Plan> {
  const judge = new Judge(deps.ec2, desired.fleets, deps.now);
  const found = new Map<string, { instance: InstanceFacts; listedBy: CompiledFleet[] }>();
  for (const fleet of desired.fleets) {
    for (const instance of await listFleetInstances(deps.ec2, fleet)) {
      const entry = found.get(instance.instanceId);
      if (entry === undefined) found.set(instance.instanceId, { instance, listedBy: [fleet] });
      else entry.listedBy.push(fleet);
    }
  }
  const byFleet = new Map<string, Listed[]>(desired.fleets.map((fleet) => [fleet.name, []]));
  for (const { instance, listedBy } of found.values()) {
    const judgement = await judge.judge(instance);
    const home = judgement.kind === 'outside' ? listedBy[0]?.name : judgement.fleet.name;
    if (home === undefined) continue;
    const alsoSelectedBy = listedBy
      .filter((fleet) => fleet.name !== home)
      .map((fleet) => ({ fleet: fleet.name, why: whyNotGoverning(fleet, instance, judgement) }));
    byFleet.get(home)?.push({ instance, judgement, alsoSelectedBy });
  }
  const fleets: FleetPlan[] = [];
  for (const fleet of desired.fleets) {
    fleets.push(await planFleet(desired, fleet, byFleet.get(fleet.name) ?? [], judge, deps));
  }
  const unique = new Map<string, PlannedInstance>();
  for (const fleet of fleets) for (const row of fleet.instances) unique.set(row.instanceId, row);
  const rows = [...unique.values()];
  const count = (verdict: PlannedInstance['verdict']) => rows.filter((r) => r.verdict === verdict).length;
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    generatedAt: deps.now.toISOString(),
    desiredState: {
      file,
      path: desired.provenance.path,
      revision: desired.revision,
      commit: desired.provenance.commit,
      sha256: desired.provenance.sha256,
    },
    summary: {
      fleets: fleets.length,
      instances: rows.length,
      inSync: count('in-sync'),
      drifted: count('drifted'),
      excluded: count('excluded'),
      notApplicable: count('not-applicable'),
      outside: count('outside'),
      replacements: fleets.reduce((sum, f) => sum + f.enforcement.replacements, 0),
      notReplaceable: fleets.reduce((sum, f) => sum + f.enforcement.notReplaceable, 0),
    },
    fleets,
  };
}

/** The exit code a plan deserves: 2 when any instance is drifted, else 0. */
export function exitCodeOf(plan: Plan): number {
  return plan.summary.drifted > 0 ? EXIT_DRIFT : EXIT_NO_DRIFT;
}
