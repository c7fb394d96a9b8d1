/**
 * The gate's rules, one entry each, in precedence order: when several apply, the first one
 * listed decides. The order reads top to bottom as "is there anything to replace at all",
 * "is it someone else's", "is the source sound", "has a human stopped it", "can the group
 * make room", "is it time": a blocker a human must clear outranks one that clears by itself,
 * so what is reported is what would still stand after everything below it were lifted.
 *
 * Each rule names the facts it reads, so {@link decideLazily} can read a costly fact only
 * when no earlier rule has decided; a rule whose facts are absent does not apply.
 *
 * New gates (issue 15: alarms in ALARM, rollout stages, waiting for promotion) are new
 * entries here, at their place in the order; nothing else changes for the callers.
 */
import { headroomOf } from '../headroom';
import type { CompiledFleet } from '../model';
import { isWindowOpen, nextWindowOpening } from '../window';
import type { Blocker, BlockerCode } from './blockers';
import type { ClaimFact, GateFacts, GateMoment, LazyFactName } from './facts';
import { ROLLOUT_RULES } from './rollout-rules';

/**
 * What a blocker makes of the question:
 *
 * - `skip`: there is nothing (left) for this question to replace, or it is someone else's;
 * - `hold`: not replaced until something changes that a human must change (or has chosen);
 * - `wait`: replaced later without anyone acting (the window opens).
 */
export type GateVerdict = 'replace' | 'wait' | 'hold' | 'skip';

/**
 * Whether a refusal is worth telling as such (beyond the drift itself, which detection
 * reports in any case):
 *
 * - `always`: someone must act on it (a broken source, a quarantine, a group with no room);
 * - `on-end`: only when it ends an execution the team may have heard of (the recheck); at
 *   detection nothing has started, and the drift's own notification says why;
 * - `never`: it passes by itself, or another execution reports what happens.
 */
export type NotifyWhen = 'always' | 'on-end' | 'never';

/** Where a blocker's cause lies: on the instance, on its whole fleet, or on the fleet's group. */
export type BlockerScope = 'instance' | 'fleet' | 'group';

/** One rule of the gate. */
export interface GateRule {
  code: BlockerCode;
  verdict: Exclude<GateVerdict, 'replace'>;
  /**
   * Whether the same drift may be replaced later, once the blocker has cleared: the
   * remediation then moves the drift to its next attempt (a new execution name). Only an
   * instance that is gone or already replaced will never be.
   */
  retryable: boolean;
  notify: NotifyWhen;
  scope: BlockerScope;
  /** The lazily read facts the rule needs (see {@link decideLazily}). */
  reads: readonly LazyFactName[];
  /** The blocker, when the rule applies to these facts. */
  find(facts: GateFacts): Blocker | undefined;
}

/** A rule as the table holds it: its `find` returns its own blocker only. */
type RuleBody<K extends BlockerCode> = Omit<GateRule, 'code' | 'find'> & {
  find(facts: GateFacts): Extract<Blocker, { code: K }> | undefined;
};

type RuleTable = { readonly [K in BlockerCode]: RuleBody<K> };

/** The governing fleet, when the instance has one. */
function fleetOf(facts: GateFacts): CompiledFleet | undefined {
  return facts.match.kind === 'member' ? facts.match.fleet : undefined;
}

const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);

/** The moments at which an instance must be running to be acted on (see `not-running`). */
const RUNNING_REQUIRED: ReadonlySet<GateMoment> = new Set(['detection', 'plan']);

function drifted(facts: GateFacts) {
  const verdict = facts.instance?.verdict;
  return verdict?.status === 'drifted' ? verdict : undefined;
}

/** Claimed by another execution than the one asking (detection asks as nobody). */
function claimedElsewhere(facts: GateFacts): ClaimFact | undefined {
  const claim = facts.claim;
  return claim !== undefined && claim.holder !== facts.execution?.holder ? claim : undefined;
}

/** A standalone instance with a known placement: Phoenix launches its replacement itself. */
function standaloneOf(facts: GateFacts) {
  const instance = facts.instance;
  const placement = instance?.placement;
  if (instance === undefined || placement === undefined || placement.autoScalingGroup !== undefined)
    return undefined;
  return { instanceId: instance.instanceId, placement };
}

function headroomBlocker(facts: GateFacts): Blocker | undefined {
  const fleet = fleetOf(facts);
  const group = facts.group;
  if (fleet === undefined || group === undefined) return undefined;
  const headroom = headroomOf(
    { name: group.name, desired: group.desired, min: group.min, max: group.max },
    fleet.budget.minHealthyPercent,
  );
  if (headroom.kind !== 'none') return undefined;
  if (headroom.code === 'pinned') {
    return { code: 'pinned', group: group.name, desired: group.desired, min: group.min, max: group.max };
  }
  // Another execution's surge may be what fills the group: its end gives the room back, and
  // the lease waits for it. Without one in flight, no budget will ever be granted.
  if (group.othersInFlight === true) return undefined;
  return {
    code: 'no-headroom',
    group: group.name,
    desired: group.desired,
    max: group.max,
    floor: headroom.floor,
    minHealthyPercent: fleet.budget.minHealthyPercent,
  };
}

/** The rules by code; the order of the keys is the precedence (see the module notes). */
const RULES: RuleTable = {
  // ---- is there anything to replace at all --------------------------------------------
  'instance-gone': {
    verdict: 'skip',
    retryable: false,
    notify: 'never',
    scope: 'instance',
    reads: [],
    find: ({ instance }) =>
      instance === undefined || (instance.state !== undefined && !GONE_STATES.has(instance.state))
        ? undefined
        : { code: 'instance-gone', instanceId: instance.instanceId, ...stateOf(instance.state) },
  },
  outside: {
    verdict: 'skip',
    retryable: true,
    notify: 'on-end',
    scope: 'instance',
    reads: [],
    find: ({ match }) => (match.kind === 'outside' ? { code: 'outside', why: match.why } : undefined),
  },
  excluded: {
    verdict: 'skip',
    retryable: true,
    notify: 'on-end',
    scope: 'instance',
    reads: [],
    find: ({ match }) => (match.kind === 'excluded' ? { code: 'excluded', why: match.why } : undefined),
  },
  'moved-fleet': {
    verdict: 'skip',
    retryable: true,
    notify: 'on-end',
    scope: 'instance',
    reads: [],
    find: (facts) => {
      const fleet = fleetOf(facts);
      const expected = facts.execution?.fleet;
      if (fleet === undefined || expected === undefined || fleet.name === expected) return undefined;
      const instanceId = facts.instance?.instanceId ?? 'unknown';
      return { code: 'moved-fleet', instanceId, fleet: fleet.name, expected };
    },
  },
  'mode-observe': {
    verdict: 'skip',
    retryable: true,
    notify: 'on-end',
    scope: 'fleet',
    reads: [],
    find: (facts) => {
      const fleet = fleetOf(facts);
      return fleet?.mode === 'observe' ? { code: 'mode-observe', fleet: fleet.name } : undefined;
    },
  },
  'not-running': {
    // Detection acts on running instances only: a pending one is judged again by its state
    // change once it runs (after Auto Scaling has tagged it), a stopped one once it starts.
    // An execution already started replaces what it was started for (the recheck does not ask).
    verdict: 'skip',
    retryable: true,
    notify: 'never',
    scope: 'instance',
    reads: [],
    // A gone instance is `instance-gone`'s, not this rule's: one fact, one blocker.
    find: ({ instance, moment }) =>
      instance?.state === undefined ||
      instance.state === 'running' ||
      GONE_STATES.has(instance.state) ||
      !RUNNING_REQUIRED.has(moment)
        ? undefined
        : { code: 'not-running', instanceId: instance.instanceId, state: instance.state },
  },
  'mode-notify': {
    verdict: 'skip',
    retryable: true,
    notify: 'on-end',
    scope: 'fleet',
    reads: [],
    find: (facts) => {
      const fleet = fleetOf(facts);
      return fleet?.mode === 'notify' ? { code: 'mode-notify', fleet: fleet.name } : undefined;
    },
  },
  'template-changed': {
    verdict: 'skip',
    retryable: true,
    notify: 'never',
    scope: 'fleet',
    reads: [],
    find: ({ template, execution, match }) => {
      if (template?.ok !== true || execution === undefined) return undefined;
      const current = { id: template.facts.id, version: template.facts.version };
      const pinned = execution.template;
      if (current.id === pinned.id && current.version === pinned.version) return undefined;
      const fleet = match.kind === 'member' ? match.fleet.name : execution.fleet;
      return { code: 'template-changed', fleet, current, pinned: { id: pinned.id, version: pinned.version } };
    },
  },
  'template-unresolved': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'fleet',
    reads: [],
    find: ({ template }) =>
      template?.ok === false ? { code: 'template-unresolved', why: template.why } : undefined,
  },
  'in-sync': {
    verdict: 'skip',
    retryable: true,
    notify: 'never',
    scope: 'instance',
    reads: [],
    find: ({ instance }) =>
      instance?.verdict?.status === 'in-sync'
        ? { code: 'in-sync', instanceId: instance.instanceId }
        : undefined,
  },
  'not-applicable': {
    verdict: 'skip',
    retryable: true,
    notify: 'always',
    scope: 'instance',
    reads: [],
    find: ({ instance }) =>
      instance?.verdict?.status === 'not-applicable'
        ? { code: 'not-applicable', why: instance.verdict.why }
        : undefined,
  },
  'drift-changed': {
    verdict: 'skip',
    retryable: true,
    notify: 'never',
    scope: 'instance',
    reads: [],
    find: (facts) => {
      const verdict = drifted(facts);
      const expected = facts.execution?.fingerprint;
      if (verdict === undefined || expected === undefined || verdict.fingerprint === expected)
        return undefined;
      const instanceId = facts.instance?.instanceId ?? 'unknown';
      return { code: 'drift-changed', instanceId, expected, actual: verdict.fingerprint };
    },
  },
  // ---- is it someone else's ------------------------------------------------------------
  'already-replaced': {
    verdict: 'skip',
    retryable: false,
    notify: 'never',
    scope: 'instance',
    reads: ['claim'],
    find: (facts) => {
      const claim = claimedElsewhere(facts);
      return claim?.replacedBy === undefined ? undefined : { code: 'already-replaced', claim };
    },
  },
  'in-flight-elsewhere': {
    verdict: 'skip',
    retryable: true,
    notify: 'never',
    scope: 'instance',
    reads: ['claim'],
    find: (facts) => {
      const claim = claimedElsewhere(facts);
      return claim === undefined || claim.replacedBy !== undefined
        ? undefined
        : { code: 'in-flight-elsewhere', claim };
    },
  },
  // ---- is the source sound ---------------------------------------------------------------
  'launch-configuration': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'fleet',
    reads: ['source'],
    find: ({ source }) =>
      source?.kind === 'launch-configuration'
        ? { code: 'launch-configuration', group: source.group }
        : undefined,
  },
  'source-unchecked': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'fleet',
    reads: ['source'],
    find: ({ source }) =>
      source?.kind === 'unchecked' ? { code: 'source-unchecked', why: source.why } : undefined,
  },
  'source-drift': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'fleet',
    reads: ['source'],
    find: ({ source, template }) => {
      if (source?.kind !== 'checked' || source.check.ok || template?.ok !== true) return undefined;
      const { id, name, version } = template.facts;
      return { code: 'source-drift', template: { id, name, version }, reasons: source.check.reasons };
    },
  },
  // ---- has a human stopped it --------------------------------------------------------------
  quarantined: {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'fleet',
    reads: ['quarantine'],
    find: ({ quarantine, template }) => {
      if (quarantine === undefined) return undefined;
      const named =
        template?.ok === true && template.facts.id === quarantine.templateId
          ? template.facts.name
          : undefined;
      return named === undefined
        ? { code: 'quarantined', quarantine }
        : { code: 'quarantined', quarantine, templateName: named };
    },
  },
  paused: {
    verdict: 'hold',
    retryable: true,
    notify: 'on-end',
    scope: 'fleet',
    reads: ['pause'],
    find: ({ pause }) => (pause?.paused === true ? { code: 'paused', pause } : undefined),
  },
  'manual-hold': {
    // The team heard of it when that execution ended ("manual action required").
    verdict: 'hold',
    retryable: true,
    notify: 'never',
    scope: 'instance',
    reads: ['attemptHold'],
    find: ({ attemptHold }) =>
      attemptHold === undefined ? undefined : { code: 'manual-hold', hold: attemptHold },
  },
  // ---- can the group (or the subnet) make room ---------------------------------------------
  // ---- has the fleet's rollout stopped it (issue 15) -------------------------------------
  ...ROLLOUT_RULES,
  'not-in-service': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'instance',
    reads: ['group'],
    find: ({ instance, group }) => {
      if (instance === undefined || group === undefined) return undefined;
      const member = group.members.find((m) => m.id === instance.instanceId);
      if (member?.lifecycle === 'InService') return undefined;
      const blocker: Blocker = { code: 'not-in-service', instanceId: instance.instanceId, group: group.name };
      if (member !== undefined) blocker.lifecycle = member.lifecycle ?? 'in an unknown state';
      return blocker;
    },
  },
  'no-subnet': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'instance',
    reads: [],
    find: (facts) => {
      const standalone = standaloneOf(facts);
      return standalone !== undefined && standalone.placement.subnetId === undefined
        ? { code: 'no-subnet', instanceId: standalone.instanceId }
        : undefined;
    },
  },
  'no-launch-template': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'instance',
    reads: [],
    find: (facts) => {
      const standalone = standaloneOf(facts);
      return standalone !== undefined && !standalone.placement.launchedFromTemplate
        ? { code: 'no-launch-template', instanceId: standalone.instanceId }
        : undefined;
    },
  },
  pinned: {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'group',
    reads: ['group'],
    find: (facts) => {
      const blocker = headroomBlocker(facts);
      return blocker?.code === 'pinned' ? blocker : undefined;
    },
  },
  'no-headroom': {
    verdict: 'hold',
    retryable: true,
    notify: 'always',
    scope: 'group',
    reads: ['group'],
    find: (facts) => {
      const blocker = headroomBlocker(facts);
      return blocker?.code === 'no-headroom' ? blocker : undefined;
    },
  },
  // ---- is it time ---------------------------------------------------------------------------
  'window-closed': {
    // Detection starts the execution whatever the window: it waits in the state machine (for
    // nothing: a Wait state), and its recheck asks again when the window opens.
    verdict: 'wait',
    retryable: true,
    notify: 'never',
    scope: 'fleet',
    reads: [],
    find: (facts) => {
      const fleet = fleetOf(facts);
      const window = fleet?.window;
      if (fleet === undefined || window === undefined || facts.moment === 'detection') return undefined;
      if (isWindowOpen(window, facts.now)) return undefined;
      const opensAt = nextWindowOpening(window, facts.now).toISOString();
      return { code: 'window-closed', fleet: fleet.name, timezone: window.timezone, opensAt };
    },
  },
};

function stateOf(state: string | undefined): { state?: string } {
  return state === undefined ? {} : { state };
}

/** The rules, in precedence order: when several apply, the first decides. */
export const GATE_RULES: readonly GateRule[] = (Object.keys(RULES) as BlockerCode[]).map(
  (code): GateRule => ({ code, ...RULES[code] }),
);

/** The rule of a code. */
export function ruleOf(code: BlockerCode): GateRule {
  return { code, ...RULES[code] };
}
