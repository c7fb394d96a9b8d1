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

/** `count` tasks parked in one partition over one store; `table` is what each read of it returns (tokens by instance). */
function parkedTasks(
  count: number,
  table: (tokens: Map<string, string>) => Promise<Waiter[]>,
  idOf: (i: number) => string = (i) => `i-${i}`,
) {
  const tokens = new Map<string, string>();
  const invoked = new Map<string, number>();
  const removed: Waiter[] = [];
  const reads: string[] = [];
  const deps = {
    clock: () => new Date(NOW),
    store: {
      listWaiters: async (fleet: string, az: string) => {
        reads.push(`${fleet} ${az}`);
        return table(tokens);
      },
      removeWaiter: async (w: Waiter) => {
        removed.push(w);
      },
      touchWaiter: async () => {},
    },
  } as unknown as StepDeps;
  const answers = Array.from({ length: count }, (_, i) => {
    const instanceId = idOf(i);
    const task = callbackTask({
      executionArn: `arn:aws:states:us-east-1:123456789012:execution:phoenix:e${i}`,
      deps,
      pacing: PACING,
      // The tasks of one call share their poller; another call's tasks read a table of their own.
      table: { client: deps.store, name: 'phoenix-state' },
      invoke: async (payload) => {
        tokens.set(instanceId, (payload as { taskToken: string }).taskToken);
        invoked.set(instanceId, (invoked.get(instanceId) ?? 0) + 1);
        return { queue: 'parked', waiter: { ...KEY, instanceId }, reason: 'the fleet is busy' };
      },
    });
    return task({ Payload: { data: {} } });
  });
  return { answers, tokens, invoked, removed, reads };
}

/** A parked task over a waiter the test writes as it likes; resolves with its answer or 'pending'. */
function parkedTask(waiterNow: (token: string) => Waiter | undefined) {
  const run = parkedTasks(
    1,
    async (tokens) => {
      const now = waiterNow(tokens.get(KEY.instanceId) ?? '');
      return now === undefined ? [] : [now];
    },
    () => KEY.instanceId,
  );
  const [answer] = run.answers;
  const settled = async (ms: number) =>
    Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve('pending'), ms))]);
  return { settled, removed: run.removed, token: () => run.tokens.get(KEY.instanceId) ?? '' };
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

describe('the parked tasks of one fleet and zone', () => {
  const sentGrant = (instanceId: string, token: string): Waiter => ({
    ...waiter(token, {
      granted: JSON.stringify({ holder: instanceId }),
      answeredAt: new Date(NOW).toISOString(),
      sentAt: new Date(NOW).toISOString(),
    }),
    instanceId,
  });

  it('are answered from one read of their partition a poll, not one read each', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = parkedTasks(6, async (tokens) => {
      await gate;
      return [...tokens].map(([id, token]) => sentGrant(id, token));
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Six parked, one read in flight (the poll waits for it): each reading its own would be six.
    expect(run.tokens.size).toBe(6);
    expect(run.reads).toEqual(['web us-east-1a']);

    release();
    expect(await Promise.all(run.answers)).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ holder: `i-${i}` })));
    expect(run.reads).toHaveLength(1);
    expect(run.removed.map((w) => w.instanceId).sort()).toEqual(['i-0', 'i-1', 'i-2', 'i-3', 'i-4', 'i-5']);
  });

  it('a task whose waiter is gone enters again; the others keep waiting for their grants', async () => {
    let reads = 0;
    const run = parkedTasks(3, async (tokens) => {
      reads += 1;
      // i-1's waiter was forgotten (a sweep took it for gone) until it parked again; the others
      // wait, unanswered, for two reads, then are sent their grants.
      const parkedAgain = (run.invoked.get('i-1') ?? 0) > 1;
      return [...tokens]
        .filter(([id]) => id !== 'i-1' || parkedAgain)
        .map(([id, token]) =>
          reads > 2 || id === 'i-1' ? sentGrant(id, token) : waiter(token, { instanceId: id }),
        );
    });

    expect(await Promise.all(run.answers)).toEqual([{ holder: 'i-0' }, { holder: 'i-1' }, { holder: 'i-2' }]);
    expect(run.invoked).toEqual(
      new Map([
        ['i-0', 1],
        ['i-1', 2],
        ['i-2', 1],
      ]),
    );
  });

  it('read again after a throttled read; failed, with the reason, when the table cannot be read at all', async () => {
    const throttle = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    let reads = 0;
    const throttled = parkedTasks(1, async (tokens) => {
      reads += 1;
      if (reads <= 2) throw throttle;
      return [...tokens].map(([id, token]) => sentGrant(id, token));
    });
    expect(await Promise.all(throttled.answers)).toEqual([{ holder: 'i-0' }]);
    expect(reads).toBe(3);

    const denied = Object.assign(new Error('not authorized to perform: dynamodb:Query'), {
      name: 'AccessDeniedException',
    });
    const refused = parkedTasks(2, async () => {
      throw denied;
    });
    const ended = await Promise.allSettled(refused.answers);
    expect(ended).toEqual([0, 1].map(() => expect.objectContaining({ status: 'rejected' })));
    for (const end of ended)
      expect(end.status === 'rejected' ? end.reason : undefined).toMatchObject({
        name: 'States.TaskFailed',
        message: expect.stringContaining('dynamodb:Query'),
      });
  });
});
