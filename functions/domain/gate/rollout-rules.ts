/**
 * The gate's rollout rules (issue 15), in the table of `rules.ts` after the human switches
 * (pause, manual hold) and before the group's room: alarms in ALARM hold every instance of the
 * fleet; a member of a rollout that waits for a human or another fleet is held too. Waits that
 * end by themselves (the canary in flight, the bake) do not refuse here: the execution starts
 * and waits at the lease (docs/adr/0031-rollout-admission-on-the-lease.md).
 */
import type { Blocker } from './blockers';
import type { GateFacts } from './facts';

/** Typed where `rules.ts` spreads them into its table (importing its types here would be a cycle). */
export const ROLLOUT_RULES = {
  'alarm-firing': {
    // Told once by the rollout (`rollout.halted`) or by the drift's own notification.
    verdict: 'hold' as const,
    retryable: true,
    notify: 'never' as const,
    scope: 'fleet' as const,
    reads: ['rollout'] as const,
    find: ({ rollout }: GateFacts): Extract<Blocker, { code: 'alarm-firing' }> | undefined =>
      rollout === undefined || rollout.firing.length === 0
        ? undefined
        : { code: 'alarm-firing', fleet: rollout.fleet, alarms: [...rollout.firing] },
  },
  'rollout-waiting': {
    verdict: 'hold' as const,
    retryable: true,
    notify: 'never' as const,
    scope: 'fleet' as const,
    reads: ['rollout'] as const,
    find: ({ rollout }: GateFacts): Extract<Blocker, { code: 'rollout-waiting' }> | undefined =>
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
