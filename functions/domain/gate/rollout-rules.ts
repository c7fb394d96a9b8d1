/**
 * The gate's rollout rules (issue 15), in the table of `rules.ts` after the human switches
 * (pause, manual hold) and before the group's room: alarms in ALARM hold every instance of the
 * fleet; a member of a rollout that waits for a human or another fleet is held too. Waits that
 * end by themselves (the canary in flight, the bake) do not refuse here: the execution starts
 * and waits at the lease (docs/adr/0031-rollout-admission-on-the-lease.md).
 */
import type { RuleBody } from './rules';

export const ROLLOUT_RULES: {
  readonly 'alarm-firing': RuleBody<'alarm-firing'>;
  readonly 'rollout-waiting': RuleBody<'rollout-waiting'>;
} = {
  'alarm-firing': {
    // Told once by the rollout (`rollout.halted`) or by the drift's own notification.
    verdict: 'hold',
    retryable: true,
    notify: 'never',
    scope: 'fleet',
    reads: ['rollout'],
    find: ({ rollout }) =>
      rollout === undefined || rollout.firing.length === 0
        ? undefined
        : { code: 'alarm-firing', fleet: rollout.fleet, alarms: [...rollout.firing] },
  },
  'rollout-waiting': {
    verdict: 'hold',
    retryable: true,
    notify: 'never',
    scope: 'fleet',
    reads: ['rollout'],
    find: ({ rollout }) =>
      rollout?.waiting === undefined
        ? undefined
        : {
            code: 'rollout-waiting',
            fleet: rollout.fleet,
            stage: rollout.waiting.stage,
            why: rollout.waiting.why,
          },
  },
};
