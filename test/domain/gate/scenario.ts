/**
 * Gate facts for the gate's specs, built from a "scenario": a drifted running member of fleet
 * `web` that nothing blocks, and one switch per rule that makes exactly that rule apply. A
 * spec turns switches on and asks the gate; combining switches is how precedence is tested.
 */
import type { GateFacts, GateMoment } from '../../../functions/domain/gate/facts';
import type { CompiledFleet } from '../../../functions/domain/model';
import {
  ASG_NAME,
  fleet,
  INSTANCE_ID,
  maintenanceWindow,
  NOW,
  reason,
  TEMPLATE_ID,
  TEMPLATE_NAME,
  TEMPLATE_VERSION,
  WEEKDAYS,
  windowRange,
} from '../../helpers/builders';

export const SELF = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:self';
export const OTHER = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:other';
export const FINGERPRINT = 'v1-000000000000000000000001';

/** The rules' switches, by the code of the rule each makes apply. */
export const SWITCHES = [
  'instance-gone',
  'outside',
  'excluded',
  'moved-fleet',
  'mode-observe',
  'not-running',
  'mode-notify',
  'template-changed',
  'template-unresolved',
  'in-sync',
  'not-applicable',
  'drift-changed',
  'already-replaced',
  'in-flight-elsewhere',
  'launch-configuration',
  'source-unchecked',
  'source-drift',
  'quarantined',
  'paused',
  'manual-hold',
  'alarm-firing',
  'rollout-waiting',
  'not-in-service',
  'no-subnet',
  'no-launch-template',
  'pinned',
  'no-headroom',
  'window-closed',
] as const;

export type Switch = (typeof SWITCHES)[number];

/** The switches of rules about the governing fleet (its name, mode, window, group room). */
const FLEET_SWITCHES: readonly Switch[] = [
  'alarm-firing',
  'rollout-waiting',
  'moved-fleet',
  'mode-observe',
  'mode-notify',
  'pinned',
  'no-headroom',
  'window-closed',
];

/**
 * Switches that cannot hold at once: they set the same fact differently (the fleet's mode,
 * the instance's state or verdict, the source, the claim, the group's sizes, the placement).
 */
export const EXCLUSIVE: readonly (readonly Switch[])[] = [
  ['instance-gone', 'not-running'],
  ['outside', 'excluded'],
  ['mode-observe', 'mode-notify'],
  ['in-sync', 'not-applicable', 'drift-changed'],
  // An unresolved template has no version to compare with the pinned one, nor to build from.
  ['template-unresolved', 'template-changed'],
  ['template-unresolved', 'source-drift'],
  ['already-replaced', 'in-flight-elsewhere'],
  ['launch-configuration', 'source-unchecked', 'source-drift'],
  ['pinned', 'no-headroom'],
  // A standalone instance has no group; a group member no standalone placement.
  ['not-in-service', 'no-subnet'],
  ['not-in-service', 'no-launch-template'],
  ['pinned', 'no-subnet'],
  ['pinned', 'no-launch-template'],
  ['no-headroom', 'no-subnet'],
  ['no-headroom', 'no-launch-template'],
  // An instance outside every fleet, or excluded by its fleet, has no governing fleet: the
  // rules about the governing fleet's mode, window, group room or name cannot apply to it.
  ...(['outside', 'excluded'] as const).flatMap((match) =>
    FLEET_SWITCHES.map((fleetSwitch): readonly Switch[] => [match, fleetSwitch]),
  ),
];

/** Whether the switches can all hold at once. */
export function compatible(switches: ReadonlySet<Switch>): boolean {
  return EXCLUSIVE.every((group) => group.filter((s) => switches.has(s)).length <= 1);
}

/** A window closed at {@link NOW} (a Sunday): weekdays only. */
export const WEEKDAY_WINDOW = maintenanceWindow(
  'Europe/Berlin',
  windowRange([...WEEKDAYS], '09:00', '17:00'),
);

/** The facts of a scenario with these switches on, asked at `moment`. */
export function scenario(
  on: Iterable<Switch>,
  moment: GateMoment = 'recheck',
  fleetOverrides: Partial<CompiledFleet> = {},
): GateFacts {
  const s = new Set(on);
  const standalone = s.has('no-subnet') || s.has('no-launch-template');
  const governing = fleet({
    ...(standalone ? { match: { kind: 'tags', tags: { App: 'web' } } } : {}),
    ...(s.has('mode-observe') ? { mode: 'observe' } : {}),
    ...(s.has('mode-notify') ? { mode: 'notify' } : {}),
    ...(s.has('window-closed') ? { window: WEEKDAY_WINDOW } : {}),
    ...(s.has('no-headroom') ? { budget: { maxConcurrent: { count: 1 }, minHealthyPercent: 100 } } : {}),
    ...fleetOverrides,
  });
  const template = { id: TEMPLATE_ID, name: TEMPLATE_NAME, version: TEMPLATE_VERSION };
  const facts: GateFacts = {
    moment,
    now: NOW,
    match: s.has('outside')
      ? { kind: 'outside', why: `no declared fleet selects the standalone instance ${INSTANCE_ID}` }
      : s.has('excluded')
        ? {
            kind: 'excluded',
            fleet: governing,
            why: `instance ${INSTANCE_ID} carries the exclusion tag phoenix:skip=true of fleet web`,
          }
        : { kind: 'member', fleet: governing },
    instance: {
      instanceId: INSTANCE_ID,
      ...(s.has('instance-gone')
        ? { state: 'terminated' }
        : s.has('not-running')
          ? { state: 'stopped' }
          : { state: 'running' }),
      verdict: s.has('in-sync')
        ? { status: 'in-sync', fleet: 'web' }
        : s.has('not-applicable')
          ? {
              status: 'not-applicable',
              fleet: 'web',
              why: 'launch template web-lt version $Default of fleet web cannot be resolved: gone',
            }
          : {
              status: 'drifted',
              fleet: 'web',
              reasons: [reason()],
              fingerprint: s.has('drift-changed') ? 'v1-000000000000000000000002' : FINGERPRINT,
            },
      placement: standalone
        ? {
            ...(s.has('no-subnet') ? {} : { subnetId: 'subnet-0123456789abcdef0' }),
            launchedFromTemplate: !s.has('no-launch-template'),
          }
        : { subnetId: 'subnet-0123456789abcdef0', launchedFromTemplate: true, autoScalingGroup: ASG_NAME },
    },
    execution: {
      holder: SELF,
      fleet: s.has('moved-fleet') ? 'api' : 'web',
      fingerprint: FINGERPRINT,
      template: {
        id: TEMPLATE_ID,
        version: s.has('template-changed') ? TEMPLATE_VERSION - 1 : TEMPLATE_VERSION,
      },
    },
    template: s.has('template-unresolved')
      ? { ok: false, why: 'launch template web-lt version $Default of fleet web cannot be resolved: gone' }
      : { ok: true, facts: template },
    source: s.has('launch-configuration')
      ? { kind: 'launch-configuration', group: ASG_NAME }
      : s.has('source-unchecked')
        ? { kind: 'unchecked', why: `Auto Scaling group ${ASG_NAME} does not exist` }
        : s.has('source-drift')
          ? {
              kind: 'checked',
              check: { ok: false, reasons: [reason({ expected: 'team-web', actual: 'platform' })] },
            }
          : { kind: 'checked', check: { ok: true } },
    pause: s.has('paused')
      ? { paused: true, by: 'oncall-bob', at: '2025-06-15T11:00:00.000Z' }
      : { paused: false },
  };
  if (s.has('already-replaced') || s.has('in-flight-elsewhere')) {
    facts.claim = {
      instanceId: INSTANCE_ID,
      holder: OTHER,
      acquiredAt: '2025-06-15T11:50:00.000Z',
      expiresAt: Date.parse('2025-06-15T13:50:00.000Z') / 1000,
      ...(s.has('already-replaced')
        ? { replacedBy: 'i-0fedcba9876543210', replacedAt: '2025-06-15T11:58:00.000Z' }
        : {}),
    };
  }
  if (s.has('quarantined')) {
    facts.quarantine = {
      fleet: 'web',
      templateId: TEMPLATE_ID,
      version: TEMPLATE_VERSION,
      cause: 'ReplacementUnhealthyError: never healthy',
      execution: OTHER,
      at: '2025-06-14T10:00:00.000Z',
    };
  }
  if (s.has('alarm-firing') || s.has('rollout-waiting')) {
    facts.rollout = {
      fleet: 'web',
      firing: s.has('alarm-firing') ? ['web-5xx'] : [],
      ...(s.has('rollout-waiting')
        ? { waiting: { stage: 'awaiting-approval' as const, why: 'waiting for `phoenix rollout approve`' } }
        : {}),
    };
  }
  if (s.has('manual-hold')) {
    facts.attemptHold = {
      until: '2025-06-16T12:00:00.000Z',
      why: `Auto Scaling group ${ASG_NAME} is pinned at min 3 = max 3 = desired 3`,
    };
  }
  if (!standalone) {
    const atMax = s.has('pinned') || s.has('no-headroom');
    facts.group = {
      name: ASG_NAME,
      desired: 3,
      min: s.has('pinned') ? 3 : 1,
      max: atMax ? 3 : 4,
      members: [
        { id: INSTANCE_ID, lifecycle: s.has('not-in-service') ? 'Standby' : 'InService' },
        { id: 'i-00000000000000002', lifecycle: 'InService' },
      ],
    };
  }
  return facts;
}
