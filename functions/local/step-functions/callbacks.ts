/**
 * The fleet queue's callback task, run locally (`phoenix reconcile`, `npm run demo`, the
 * tests): the same definition, callback included.
 *
 * The runner gives each entry of a callback task a token of its own (`local:<execution>:<n>`),
 * invokes the steps in-process with it, and then waits for the answer: at once when the
 * granter runs in this process (the process-wide registry below resolves it), or, when the
 * grant was made by another process (two reconcilers on one table, a local run beside the
 * deployed stack), by reading the waiter, where every grant is written before it is sent and
 * marked once sent. While it waits it keeps its waiter alive (a sweep forgets a local waiter silent for five
 * minutes) and admits now and then itself, as the deployed sweep would.
 */
import type { RemediationStore, Waiter, WaiterKey } from '../../aws/remediation-store';
import type { Delivery, TaskCallbacks } from '../../aws/task-callbacks';
import { admit, type QueueEntry, RESEND_AFTER_MS, type StepDeps } from '../../remediation/steps';
import { StateError } from './tasks';

/** The resource of a callback task that invokes the steps Lambda. */
export const LAMBDA_CALLBACK_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

type Answer = { ok: true; output: unknown } | { ok: false; error: string; cause: string };

/** Tasks of this process waiting on their token. */
const waiting = new Map<string, (answer: Answer) => void>();
/**
 * When a waiter of this process last admitted for each fleet: the admissions a waiter makes
 * stand in for the deployed sweep (a lost wake-up, a bake that ended), so one per fleet per
 * `pollMs × admitEvery` is enough, however many of its executions wait.
 */
const lastAdmitted = new Map<string, number>();
let tokens = 0;

/** The callbacks a local run's steps answer tokens with: this process's waiters at once; another's find the answer in the table. */
export const localCallbacks: TaskCallbacks = {
  succeed: async (token, output) => deliver(token, { ok: true, output: structuredClone(output) }),
  fail: async (token, error, cause) => deliver(token, { ok: false, error, cause }),
  heartbeat: async (token) => (waiting.has(token) ? 'delivered' : 'elsewhere'),
};

function deliver(token: string, answer: Answer): Delivery {
  const resolve = waiting.get(token);
  if (resolve === undefined) return 'elsewhere';
  waiting.delete(token);
  resolve(answer);
  return 'delivered';
}

/**
 * How often a parked local task reads its waiter (a grant made by another process) and admits
 * itself: the first read soon, then less and less often (a grant in this process needs no
 * read at all), never rarer than `maxPollMs`.
 */
export interface CallbackPacing {
  pollMs: number;
  maxPollMs: number;
  /** Admit every this many polls (a lost wake-up, a bake that ended, a granter that died). */
  admitEvery: number;
  /** Record a sign of life at least this often (a sweep forgets a local waiter silent for five minutes). */
  touchEveryMs: number;
}

export const REAL_PACING: CallbackPacing = {
  pollMs: 1000,
  maxPollMs: 10_000,
  admitEvery: 3,
  touchEveryMs: 60_000,
};
export const FAST_PACING: CallbackPacing = {
  pollMs: 25,
  maxPollMs: 1000,
  admitEvery: 3,
  touchEveryMs: 60_000,
};

/**
 * A callback task that invokes the steps: `invoke` runs the Lambda in-process (counted and
 * gated as any invocation); the task's output is the answer sent with the token.
 */
export function callbackTask(options: {
  executionArn: string;
  deps: StepDeps;
  invoke: (payload: unknown) => Promise<unknown>;
  pacing: CallbackPacing;
}) {
  return async (taskInput: unknown): Promise<unknown> => {
    let payload = (taskInput as { Payload?: Record<string, unknown> }).Payload ?? {};
    for (;;) {
      tokens += 1;
      const token = `local:${options.executionArn}:${tokens}`;
      const answered = new Promise<Answer>((resolve) => waiting.set(token, resolve));
      let entry: QueueEntry | undefined;
      try {
        entry = (await options.invoke({ ...payload, taskToken: token })) as QueueEntry | undefined;
      } catch (error) {
        waiting.delete(token);
        throw error;
      }
      const answer =
        entry?.queue === 'parked'
          ? await parked(options.deps, options.pacing, token, entry.waiter, answered)
          : await answered;
      if (answer === 'lost') {
        // Forgotten unanswered (a sweep took it for gone): it enters again, and having waited,
        // is rechecked first, as a granter would (the step rechecks a state whose recheck is old).
        payload = { ...payload, data: withStaleRecheck(payload.data) };
        continue;
      }
      if (answer.ok) return answer.output;
      throw new StateError(answer.error, answer.cause);
    }
  };
}

/** Waits for this process's granter, or reads the waiter for another's; `lost` when it was forgotten unanswered. */
async function parked(
  deps: StepDeps,
  pacing: CallbackPacing,
  token: string,
  key: WaiterKey,
  answered: Promise<Answer>,
): Promise<Answer | 'lost'> {
  let settled: Answer | undefined;
  void answered.then((answer) => {
    settled = answer;
  });
  const store = deps.store as Pick<RemediationStore, 'getWaiter' | 'removeWaiter' | 'touchWaiter'>;
  let pause = pacing.pollMs;
  let touched = Date.now();
  for (let poll = 1; ; poll += 1) {
    const early = await Promise.race([answered, sleep(pause)]);
    pause = Math.min(pacing.maxPollMs, pause * 2);
    if (early !== undefined) return early;
    const waiter = await store.getWaiter(key);
    if (settled !== undefined) return settled;
    if (waiter === undefined || waiter.token !== token) {
      waiting.delete(token);
      return 'lost';
    }
    const answer = answerOf(waiter, deps.clock().getTime());
    if (answer !== undefined) {
      waiting.delete(token);
      await store.removeWaiter(waiter);
      return answer;
    }
    // Both are help, not the wait itself: one that fails (a slow or throttled account) must not
    // fail the task and leave its waiter behind for a grant nobody would take.
    try {
      if (Date.now() - touched >= pacing.touchEveryMs) {
        await store.touchWaiter(waiter, deps.clock().toISOString());
        touched = Date.now();
      }
      const admittedAgo = Date.now() - (lastAdmitted.get(key.fleet) ?? 0);
      if (
        poll % pacing.admitEvery === 0 &&
        deps.callbacks !== undefined &&
        admittedAgo >= pacing.pollMs * pacing.admitEvery
      ) {
        lastAdmitted.set(key.fleet, Date.now());
        await admit({ ...deps, callbacks: deps.callbacks }, key.fleet);
      }
    } catch {
      // The next poll tries again.
    }
  }
}

/** The execution's state with its recheck marked as old: the lease step asks again. */
function withStaleRecheck(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const recheck = (data as { recheck?: unknown }).recheck;
  if (typeof recheck !== 'object' || recheck === null) return data;
  return { ...data, recheck: { ...recheck, checkedAt: '' } };
}

/**
 * The answer on the waiter, once it is this task's to take: sent by a granter of another
 * process, or written so long ago that its granter is taken for dead (as the deployed sweep
 * resends it). One written and not sent yet is a wave's grant whose admission has not ended
 * its pass: taken now, the member would raise its group before the rest of its wave is granted.
 */
function answerOf(waiter: Waiter, now: number): Answer | undefined {
  const sent = waiter.sentAt !== undefined || now - Date.parse(waiter.answeredAt ?? '') >= RESEND_AFTER_MS;
  if (!sent) return undefined;
  if (waiter.granted !== undefined) return { ok: true, output: JSON.parse(waiter.granted) };
  if (waiter.failed === undefined) return undefined;
  const { error, cause } = JSON.parse(waiter.failed) as { error?: string; cause?: string };
  return { ok: false, error: error ?? 'States.TaskFailed', cause: cause ?? '' };
}

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}
