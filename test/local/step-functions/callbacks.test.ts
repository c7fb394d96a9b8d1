/**
 * A parked local task and the answers it may take from the table (docs/adr/0034-waves.md): a
 * grant another process's granter sent (`sentAt`), one so old its granter is taken for dead, or
 * its own process's send; never one written and not sent yet (a wave's grant before its
 * admission's pass ends), which would let the member raise its group alone.
 */
import { describe, expect, it } from 'vitest';
import type { Waiter, WaiterKey } from '../../../functions/aws/remediation-store';
import {
  type CallbackPacing,
  callbackTask,
  localCallbacks,
} from '../../../functions/local/step-functions/callbacks';
import { RESEND_AFTER_MS, type StepDeps } from '../../../functions/remediation/steps';

const PACING: CallbackPacing = { pollMs: 5, maxPollMs: 5, admitEvery: 1_000_000, touchEveryMs: 60_000 };
const NOW = Date.parse('2026-12-06T12:00:00.000Z');
const KEY: WaiterKey = {
  fleet: 'web',
  az: 'us-east-1a',
  launchTime: '2026-12-01T00:00:00.000Z',
  instanceId: 'i-0aaa',
};
const GRANT = { holder: 'arn:exec', groupLocked: true };

/** A parked task over a waiter the test writes as it likes; resolves with its answer or 'pending'. */
function parkedTask(waiterNow: (token: string) => Waiter | undefined) {
  let token = '';
  const removed: Waiter[] = [];
  const deps = {
    clock: () => new Date(NOW),
    store: {
      getWaiter: async (_key: WaiterKey) => waiterNow(token),
      removeWaiter: async (w: Waiter) => {
        removed.push(w);
      },
      touchWaiter: async () => {},
    },
  } as unknown as StepDeps;
  const task = callbackTask({
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:phoenix:e1',
    deps,
    pacing: PACING,
    invoke: async (payload) => {
      token = (payload as { taskToken: string }).taskToken;
      return { queue: 'parked', waiter: KEY, reason: 'the fleet is busy' };
    },
  });
  const answer = task({ Payload: { data: {} } });
  const settled = async (ms: number) =>
    Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve('pending'), ms))]);
  return { settled, removed, token: () => token };
}

function waiter(token: string, answer: Partial<Waiter>): Waiter {
  return {
    ...KEY,
    holder: 'arn:exec',
    token,
    data: '{}',
    parkedAt: new Date(NOW - 60_000).toISOString(),
    heartbeatAt: new Date(NOW - 60_000).toISOString(),
    ...answer,
  };
}

describe('a parked local task', () => {
  it('does not take a grant written and not sent yet, and takes it once its granter marked it sent', async () => {
    let sent = false;
    const run = parkedTask((token) =>
      waiter(token, {
        granted: JSON.stringify(GRANT),
        answeredAt: new Date(NOW - 1_000).toISOString(),
        ...(sent ? { sentAt: new Date(NOW).toISOString() } : {}),
      }),
    );

    // Many polls read the written grant; none takes it.
    expect(await run.settled(100)).toBe('pending');
    expect(run.removed).toEqual([]);

    sent = true;
    expect(await run.settled(1_000)).toEqual(GRANT);
    expect(run.removed).toHaveLength(1);
  });

  it('takes a grant never marked sent once it is as old as a resend (its granter is taken for dead)', async () => {
    const run = parkedTask((token) =>
      waiter(token, {
        granted: JSON.stringify(GRANT),
        answeredAt: new Date(NOW - RESEND_AFTER_MS).toISOString(),
      }),
    );

    expect(await run.settled(1_000)).toEqual(GRANT);
  });

  it('takes its own process’s send at once, whatever the table says', async () => {
    const run = parkedTask((token) =>
      waiter(token, { granted: JSON.stringify(GRANT), answeredAt: new Date(NOW).toISOString() }),
    );
    await run.settled(20);

    expect(await localCallbacks.succeed(run.token(), { holder: 'arn:exec', sent: 'here' })).toBe('delivered');
    expect(await run.settled(1_000)).toEqual({ holder: 'arn:exec', sent: 'here' });
  });

  it('fails with a refusal marked sent, as the granter sent it', async () => {
    const run = parkedTask((token) =>
      waiter(token, {
        failed: JSON.stringify({ error: 'QuarantinedError', cause: '{"errorMessage":"quarantined"}' }),
        answeredAt: new Date(NOW).toISOString(),
        sentAt: new Date(NOW).toISOString(),
      }),
    );

    await expect(run.settled(1_000)).rejects.toMatchObject({ name: 'QuarantinedError' });
  });
});
