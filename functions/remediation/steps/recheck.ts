/**
 * The first step: is the remediation still wanted, and may it start now? The gate
 * (`domain/gate`, docs/adr/0027-one-gate-for-every-replacement.md) decides, as it does for the
 * evaluator and `phoenix plan`; this step reads the facts it asks for and renders its decision
 * as the state machine's skip reasons. What it reads (the instance, its group) is carried to
 * the plan and the lease as a snapshot.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import * as z from 'zod/mini';
import { resolveLaunchTemplate, sourceOfGroup } from '../../aws/inventory';
import type { RemediationGate } from '../../aws/remediation-store';
import { evaluateDrift } from '../../domain/drift/engine';
import { type FleetMatch, findFleet } from '../../domain/drift/match';
import { checkSource } from '../../domain/drift/source-check';
import { PhoenixError } from '../../domain/errors';
import type { BlockerCode } from '../../domain/gate/blockers';
import { decideLazily, type FactReaders, type GateRefusal } from '../../domain/gate/decide';
import type { GateFacts, SourceFact, TemplateFact } from '../../domain/gate/facts';
import type { CompiledFleet, InstanceFacts, LaunchTemplateFacts } from '../../domain/model';
import { governsRollout, isRolloutMember } from '../../domain/rollout/membership';
import {
  type MachineData,
  type RecheckResult,
  type SkipReason,
  type Snapshot,
  TimingsSchema,
} from '../input';
import {
  describeGroup,
  groupView,
  instanceNow,
  placementOf,
  reasonsSummary,
  type StepContext,
  type StepDeps,
} from './deps';

/**
 * The skip reason the state machine reports for each blocker the gate may give at the recheck
 * (the reasons predate the gate and are matched by the outcome and the team's notifications,
 * so several blockers share one). `null`: the blocker cannot decide here, because the recheck
 * gives the gate no fact it needs (an instance's state: an execution replaces what it was
 * started for, running or not; the group's room, the instance's placement and a manual-action
 * hold, which the plan step and the evaluator judge), or it is rendered otherwise (a template
 * that cannot be resolved fails the step with its error; a closed window waits).
 */
const SKIP_REASONS: Readonly<Record<BlockerCode, SkipReason | null>> = {
  'instance-gone': 'instance-gone',
  outside: 'not-in-fleet',
  excluded: 'excluded',
  'moved-fleet': 'not-in-fleet',
  'mode-observe': 'not-enforcing',
  'not-running': null,
  'mode-notify': 'not-enforcing',
  'template-changed': 'template-changed',
  'template-unresolved': null,
  'in-sync': 'in-sync',
  'not-applicable': 'drift-changed',
  'drift-changed': 'drift-changed',
  'already-replaced': 'already-replaced',
  'in-flight-elsewhere': 'in-flight-elsewhere',
  'launch-configuration': 'source-drift',
  'source-unchecked': null,
  'source-drift': 'source-drift',
  quarantined: 'quarantined',
  paused: 'paused',
  'manual-hold': null,
  'not-in-service': null,
  'no-subnet': null,
  'no-launch-template': null,
  pinned: null,
  'no-headroom': null,
  'window-closed': null,
  // The lease step admits under the rollout and the fleet's alarms (it reads them itself).
  'alarm-firing': null,
  'rollout-waiting': null,
};

/**
 * Is the remediation still wanted, and may it start now? Ends it (skip) when the gate refuses
 * (the instance is gone, no longer in the fleet, excluded, no longer drifted the same way, the
 * template moved on, another execution is replacing it or has replaced it, the source itself
 * is drifted, the version is quarantined, the switch is paused); asks to wait when the fleet's
 * window is closed. When several hold, the gate's precedence decides which one is reported.
 */
export async function recheck(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<RecheckResult> {
  const now = deps.clock();
  const timings = z.parse(TimingsSchema, data.timings ?? {});
  const base = { timings, checkedAt: now.toISOString() };

  const instance = await instanceNow(deps, data.instanceId);
  const facts = await eagerFacts(deps, data, ctx, instance, now);
  const reads = factReaders(deps, data, now, facts.fleet, facts.template);
  const decision = await decideLazily(facts.gate, reads.readers);

  if (decision.verdict === 'wait') {
    if (decision.until === undefined)
      throw new PhoenixError(`the gate asked to wait without saying until when: ${decision.why}`);
    return {
      decision: 'wait',
      reason: 'window-closed',
      detail: decision.why,
      notify: false,
      windowOpensAt: decision.until,
      ...base,
    };
  }
  if (decision.verdict !== 'replace') {
    if (decision.blocker.code === 'template-unresolved' && facts.templateError !== undefined)
      throw facts.templateError;
    return {
      decision: 'skip',
      reason: skipReasonOf(decision),
      detail: decision.why,
      notify: decision.notify,
      ...base,
    };
  }

  // The gate let it through, so the instance is a running member of the fleet it was started
  // for, with the pinned template resolved.
  if (instance === undefined || facts.fleet === undefined)
    throw new PhoenixError(`the gate let ${data.instanceId} through without an instance or a fleet`);
  const snapshot: Snapshot = { instance: placementOf(instance) };
  const group = await reads.group();
  if (group !== undefined && group.AutoScalingGroupName === snapshot.instance.autoScalingGroup)
    snapshot.group = groupView(group);
  if (facts.template?.definesNetworkInterfaces === true)
    snapshot.template = { definesNetworkInterfaces: true };
  if (facts.template !== undefined && governsRollout(facts.fleet.rollout)) {
    // The template resolved is the pinned version (the gate refused a changed one).
    const source = { templateId: facts.template.id, version: facts.template.version };
    const imageId = facts.template.imageId;
    snapshot.source = {
      member: isRolloutMember(instance, imageId === undefined ? source : { ...source, imageId }),
      ...(imageId === undefined ? {} : { imageId }),
    };
  }
  return {
    decision: 'proceed',
    reason: 'drifted',
    detail: `still drifted: ${reasonsSummary(data)}`,
    notify: false,
    ...base,
    snapshot,
    ...(await reads.launchTokens()),
  };
}

function skipReasonOf(decision: GateRefusal): SkipReason {
  const reason = SKIP_REASONS[decision.blocker.code];
  if (reason === null) {
    throw new PhoenixError(
      `the gate refused with ${decision.blocker.code}, which the recheck gives it no fact for: ${decision.why}`,
    );
  }
  return reason;
}

// ---- the facts --------------------------------------------------------------------------

interface EagerFacts {
  gate: GateFacts;
  /** The fleet that governs the instance now, when it is a member of one. */
  fleet?: CompiledFleet;
  /** Its launch template as it resolves now, when it does. */
  template?: LaunchTemplateFacts;
  /** Why it does not: thrown as it was if that decides (the step fails, as it always has). */
  templateError?: unknown;
}

/**
 * The facts read before the gate is asked: the instance (read first, so what the snapshot
 * carries was seen before anything else), its fleet, the fleet's template as it resolves now
 * and the drift engine's verdict on it, and what the execution was started for.
 */
async function eagerFacts(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  instance: InstanceFacts | undefined,
  now: Date,
): Promise<EagerFacts> {
  const pinned = data.launchTemplate;
  const execution = {
    holder: ctx.executionId,
    fleet: data.fleet,
    fingerprint: data.fingerprint,
    template: { id: pinned.id, version: pinned.version },
  };
  if (instance === undefined) {
    // EC2 knows no such instance: the gate's first rule ends it, whatever else holds.
    const match: FleetMatch = { kind: 'outside', why: `instance ${data.instanceId} no longer exists` };
    return { gate: { moment: 'recheck', now, match, instance: { instanceId: data.instanceId }, execution } };
  }
  const match = findFleet(instance, deps.desiredState.fleets);
  const gate: GateFacts = {
    moment: 'recheck',
    now,
    match,
    instance: { instanceId: instance.instanceId, state: instance.state },
    execution,
  };
  if (match.kind !== 'member') return { gate };
  const fleet = match.fleet;
  let lookup: { template: TemplateFact; facts?: LaunchTemplateFacts; error?: unknown };
  try {
    const facts = await resolveLaunchTemplate(deps.ec2, fleet.launchTemplate);
    lookup = { template: { ok: true, facts }, facts };
  } catch (error) {
    // Kept for the gate to weigh: a higher blocker (the fleet stopped enforcing, the instance
    // moved) ends the execution as it would have without reading the template at all.
    const why = error instanceof Error ? error.message : String(error);
    lookup = { template: { ok: false, why }, error };
  }
  gate.template = lookup.template;
  if (lookup.facts === undefined) return { gate, fleet, templateError: lookup.error };
  gate.instance = {
    instanceId: instance.instanceId,
    state: instance.state,
    verdict: evaluateDrift({ instance, fleet, template: lookup.facts, now }),
  };
  return { gate, fleet, template: lookup.facts };
}

/**
 * The facts read only when the gate reaches a rule that needs them: the state table's claim,
 * pause and quarantine (one request), and the source a fresh instance would be built from.
 *
 * The fleet's Auto Scaling group is read before the state table, whichever the gate asks for
 * first: another execution that claimed the instance before this reading shows in it, one that
 * claims it after is refused to this one at the lease, and what the plan reads in the snapshot
 * was seen before either touched the instance (docs/adr/0021-one-replacement-per-instance.md).
 * The group's room and the instance's placement are not given to the gate here: the plan step
 * judges them from the snapshot.
 */
function factReaders(
  deps: StepDeps,
  data: MachineData,
  now: Date,
  fleet: CompiledFleet | undefined,
  template: LaunchTemplateFacts | undefined,
): {
  readers: FactReaders;
  group: () => Promise<AutoScalingGroup | undefined>;
  launchTokens: () => Promise<{ launchTokensFullAtMs?: number }>;
} {
  const pinned = data.launchTemplate;
  let group: Promise<AutoScalingGroup | undefined> | undefined;
  const readGroup = () => {
    group ??=
      fleet?.match.kind === 'autoScalingGroup'
        ? describeGroup(deps, fleet.match.autoScalingGroup)
        : Promise.resolve(undefined);
    return group;
  };
  let table: Promise<RemediationGate> | undefined;
  const readTable = () => {
    table ??= readGroup().then(() =>
      deps.store.remediationGate(
        { fleet: data.fleet, templateId: pinned.id, version: pinned.version },
        data.instanceId,
      ),
    );
    return table;
  };
  const readers: FactReaders = {
    claim: async () => (await readTable()).instanceClaim,
    pause: async () => (await readTable()).pause,
    quarantine: async () => (await readTable()).quarantine,
    source: async () =>
      fleet === undefined || template === undefined
        ? undefined
        : sourceFact(deps, fleet, template, now, readGroup),
  };
  // Read with the gate's items when the gate read them (it almost always does); never alone.
  const launchTokens = async (): Promise<{ launchTokensFullAtMs?: number }> => {
    if (table === undefined) return {};
    const fullAt = (await table).launchTokensFullAtMs;
    return fullAt === undefined ? {} : { launchTokensFullAtMs: fullAt };
  };
  return { readers, group: readGroup, launchTokens };
}

/**
 * The anti-loop check's fact: would a fresh instance from the fleet's source be drifted
 * itself? For an Auto Scaling fleet the source is what the group launches (its template
 * version and propagated tags). A group that no longer exists, or whose own template cannot
 * be resolved, fails the step with that error, as it always has.
 */
async function sourceFact(
  deps: StepDeps,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts,
  now: Date,
  readGroup: () => Promise<AutoScalingGroup | undefined>,
): Promise<SourceFact> {
  const group = await readGroup();
  if (fleet.match.kind !== 'autoScalingGroup' || group === undefined) {
    return { kind: 'checked', check: checkSource({ fleet, template, propagatedTags: {}, now }) };
  }
  const source = await sourceOfGroup(deps.ec2, group, { spec: fleet.launchTemplate, facts: template });
  if (source.template === undefined)
    return { kind: 'launch-configuration', group: fleet.match.autoScalingGroup };
  const check = checkSource({
    fleet,
    template,
    propagatedTags: source.propagatedTags,
    now,
    groupTemplate: source.template,
  });
  return { kind: 'checked', check };
}
