/**
 * The first step: is the remediation still wanted, and may it start now? What it reads (the
 * instance, its group) is carried to the plan and the lease as a snapshot.
 */
import type { AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import * as z from 'zod/mini';
import { resolveLaunchTemplate, sourceOfGroup } from '../../aws/inventory';
import { instanceClaimReason, pausedReason } from '../../aws/remediation-store';
import type { Quarantine } from '../../aws/state-store';
import { evaluateDrift } from '../../domain/drift/engine';
import { findFleet } from '../../domain/drift/match';
import { checkSource } from '../../domain/drift/source-check';
import type { CompiledFleet, LaunchTemplateFacts } from '../../domain/model';
import { isWindowOpen, nextWindowOpening } from '../../domain/window';
import {
  type MachineData,
  type RecheckResult,
  type SkipReason,
  type Snapshot,
  TimingsSchema,
} from '../input';
import {
  describeGroup,
  GONE_STATES,
  groupView,
  instanceNow,
  placementOf,
  reasonsSummary,
  type StepContext,
  type StepDeps,
} from './deps';

/**
 * Is the remediation still wanted, and may it start now? Ends it (skip) when the instance is
 * gone, no longer in the fleet, excluded, no longer drifted the same way, the template moved
 * on, another execution is replacing it or has replaced it, the switch is paused, the version
 * is quarantined, or the source itself is drifted; asks to wait when the fleet's window is
 * closed.
 */
export async function recheck(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<RecheckResult> {
  const now = deps.clock();
  const timings = z.parse(TimingsSchema, data.timings ?? {});
  const base = { timings, checkedAt: now.toISOString() };
  const skip = (reason: SkipReason, detail: string, notify: boolean): RecheckResult => ({
    decision: 'skip',
    reason,
    detail,
    notify,
    ...base,
  });

  const pinned = data.launchTemplate;
  const instance = await instanceNow(deps, data.instanceId);
  if (instance === undefined || GONE_STATES.has(instance.state)) {
    return skip(
      'instance-gone',
      `instance ${data.instanceId} is ${instance?.state ?? 'gone'}: nothing to replace`,
      false,
    );
  }

  const match = findFleet(instance, deps.desiredState.fleets);
  if (match.kind === 'outside') return skip('not-in-fleet', match.why, true);
  if (match.kind === 'excluded') return skip('excluded', match.why, true);
  const fleet = match.fleet;
  if (fleet.name !== data.fleet) {
    return skip(
      'not-in-fleet',
      `instance ${data.instanceId} now belongs to fleet ${fleet.name}, not ${data.fleet}`,
      true,
    );
  }
  if (fleet.mode !== 'enforce') {
    return skip(
      'not-enforcing',
      `fleet ${fleet.name} is in ${fleet.mode} mode: Phoenix does not replace its instances`,
      true,
    );
  }

  const current = await resolveLaunchTemplate(deps.ec2, fleet.launchTemplate);
  if (current.id !== pinned.id || current.version !== pinned.version) {
    return skip(
      'template-changed',
      `fleet ${fleet.name} now resolves to launch template ${current.id} version ${current.version}, not the pinned ${pinned.id} version ${pinned.version}; the remediation for the new version takes over`,
      false,
    );
  }

  const verdict = evaluateDrift({ instance, fleet, template: current, now });
  if (verdict.status === 'in-sync') {
    return skip('in-sync', `instance ${data.instanceId} is no longer drifted`, false);
  }
  if (verdict.status === 'not-applicable') return skip('drift-changed', verdict.why, true);
  if (verdict.fingerprint !== data.fingerprint) {
    return skip(
      'drift-changed',
      `instance ${data.instanceId} is drifted differently now (fingerprint ${data.fingerprint} → ${verdict.fingerprint}); the remediation for the new drift takes over`,
      false,
    );
  }

  const gate = await gateOf(deps, data, ctx, fleet, current, now);
  if (!gate.open) {
    if (gate.decision === 'skip') return skip(gate.reason, gate.detail, gate.notify);
    return {
      decision: 'wait',
      reason: 'window-closed',
      detail: gate.detail,
      notify: false,
      windowOpensAt: gate.windowOpensAt,
      ...base,
    };
  }

  const snapshot: Snapshot = { instance: placementOf(instance) };
  const group = gate.group;
  if (group !== undefined && group.AutoScalingGroupName === snapshot.instance.autoScalingGroup)
    snapshot.group = groupView(group);
  if (current.definesNetworkInterfaces === true) snapshot.template = { definesNetworkInterfaces: true };
  return {
    decision: 'proceed',
    reason: 'drifted',
    detail: `still drifted: ${reasonsSummary(data)}`,
    notify: false,
    ...base,
    snapshot,
  };
}

// ---- the gate ---------------------------------------------------------------------------

/** What {@link gateOf} decided: go on (with the group it read, for the snapshot), end, or wait. */
type GateVerdict =
  | { open: true; group?: AutoScalingGroup }
  | { open: false; decision: 'skip'; reason: SkipReason; detail: string; notify: boolean }
  | { open: false; decision: 'wait'; detail: string; windowOpensAt: string };

/**
 * May this drift be replaced now: the group launches from a launch template, no other
 * execution holds the instance's claim, remediation is not paused, the version is not
 * quarantined, a fresh instance from the source would not itself be drifted, and the fleet's
 * window is open. In this order, which decides which reason a remediation blocked twice
 * over ends with.
 *
 * Every rule of the gate the recheck applies lives here and nowhere else in the steps, so the
 * gate decision module (issue 12, item 2) can take it over in one place: this function then
 * reads the facts and renders that module's decision. The claim is this execution's business,
 * not the gate's; it is read in the same request as the switches.
 */
async function gateOf(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  fleet: CompiledFleet,
  current: LaunchTemplateFacts,
  now: Date,
): Promise<GateVerdict> {
  const pinned = data.launchTemplate;
  const skip = (reason: SkipReason, detail: string, notify: boolean): GateVerdict => ({
    open: false,
    decision: 'skip',
    reason,
    detail,
    notify,
  });

  let source: ReturnType<typeof checkSource>;
  let group: AutoScalingGroup | undefined;
  if (fleet.match.kind === 'autoScalingGroup') {
    group = await describeGroup(deps, fleet.match.autoScalingGroup);
    const groupSource = await sourceOfGroup(deps.ec2, group, { spec: fleet.launchTemplate, facts: current });
    if (groupSource.template === undefined) {
      return skip(
        'source-drift',
        `Auto Scaling group ${fleet.match.autoScalingGroup} launches from a launch configuration, not launch template ${pinned.id}: a replacement would not be built from what Git declares`,
        true,
      );
    }
    source = checkSource({
      fleet,
      template: current,
      propagatedTags: groupSource.propagatedTags,
      now,
      groupTemplate: groupSource.template,
    });
  } else {
    source = checkSource({ fleet, template: current, propagatedTags: {}, now });
  }

  // Both switches and the instance's claim in one read, after the instance and its group were
  // read: another execution that claimed the instance before this reading shows here, one that
  // claims it after is refused to this one at the lease, and what the plan reads in the
  // snapshot was seen before either touched the instance (docs/adr/0021-one-replacement-per-instance.md).
  const gate = await deps.store.remediationGate(
    { fleet: data.fleet, templateId: pinned.id, version: pinned.version },
    data.instanceId,
  );
  const claim = gate.instanceClaim;
  if (claim !== undefined && claim.holder !== ctx.executionId) {
    return claim.replacedBy === undefined
      ? skip('in-flight-elsewhere', instanceClaimReason(claim), false)
      : skip('already-replaced', instanceClaimReason(claim), false);
  }
  const pause = gate.pause;
  if (pause.paused) {
    return skip('paused', pausedReason(pause), true);
  }
  if (gate.quarantine !== undefined) return skip('quarantined', quarantineText(gate.quarantine), true);
  if (!source.ok) {
    const what = source.reasons.map(
      (r) => `${r.field}: expected ${r.expected ?? 'nothing'}, source gives ${r.actual ?? 'nothing'}`,
    );
    return skip(
      'source-drift',
      `a fresh instance from launch template ${pinned.id} version ${pinned.version} would itself be drifted (${what.join('; ')}); fix Git or the template — Phoenix does not replace in a loop`,
      true,
    );
  }

  if (fleet.window !== undefined && !isWindowOpen(fleet.window, now)) {
    const opensAt = nextWindowOpening(fleet.window, now).toISOString();
    return {
      open: false,
      decision: 'wait',
      detail: `outside the maintenance window of fleet ${fleet.name} (${fleet.window.timezone}); waiting until ${opensAt}`,
      windowOpensAt: opensAt,
    };
  }
  return group === undefined ? { open: true } : { open: true, group };
}

function quarantineText(q: Quarantine): string {
  return (
    `launch template ${q.templateId} version ${q.version} is quarantined for fleet ${q.fleet} since ${q.at} ` +
    `(execution ${q.execution}: ${q.cause}); publish a fixed template version (a new version is not quarantined), or lift this one by deleting the state table item pk=quarantine sk=${q.fleet}#${q.templateId}#${q.version}`
  );
}
