/**
 * The fleet queue's callback task, run locally (`phoenix reconcile`, `npm run demo`, the
 * tests): the same definition, callback included.
 *
 * The runner gives each entry of a callback task a token of its own (`local:<execution>:<n>`),
 * invokes the steps in-process with it, and then waits for the answer: at once when the
 * granter runs in this process (the process-wide registry below resolves it), or, when the
 * grant was made by another process (two reconcilers on one table, a local run beside the
 * deployed stack), from the waiter, where every grant is written before it is sent and marked
 * once sent: one poller per fleet's zone reads them all (waiter-poller.ts), keeps them alive
 * and admits now and then, as the deployed sweep would.
 */
import type { WaiterKey } from '../../aws/remediation-store';
import type { Delivery, TaskCallbacks } from '../../aws/task-callbacks';
import type { QueueEntry, StepDeps } from '../../remediation/steps';
import { StateError } from './tasks';
import {
  type Answer,
  type CallbackPacing,
  type ParkedTask,
  type PollerTable,
  pollFor,
} from './waiter-poller';

export type { CallbackPacing } from './waiter-poller';

/** The resource of a callback task that invokes the steps Lambda. */
export const LAMBDA_CALLBACK_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/** Tasks of this process waiting on their token. */
const waiting = new Map<string, (answer: Answer) => void>();
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
  /**
   * The table as the run shares it among its parked tasks (see {@link ParkedTask.table}): the
   * run's own client, not the execution's counting store, or each task would poll alone.
   */
  table: PollerTable;
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
        entry?.queue === 'parked' ? await parked(options, token, entry.waiter, answered) : await answered;
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

/** Waits for this process's granter, or for its partition's poller to read another's answer; `lost` when it was forgotten unanswered. */
async function parked(
  { deps, pacing, table }: { deps: StepDeps; pacing: CallbackPacing; table: PollerTable },
  token: string,
  key: WaiterKey,
  answered: Promise<Answer>,
): Promise<Answer | 'lost'> {
  let settle: (answer: Answer | 'lost') => void = () => {};
  const fromTable = new Promise<Answer | 'lost'>((resolve) => {
    settle = resolve;
  });
  const polling = pollFor({
    token,
    key,
    deps,
    pacing,
    table,
    waiting: () => waiting.has(token),
    settle: (answer) => {
      waiting.delete(token);
      settle(answer);
    },
  });
  try {
    return await Promise.race([answered, fromTable]);
  } finally {
    polling.stop();
  }
}

/** The execution's state with its recheck marked as old: the lease step asks again. */
function withStaleRecheck(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const recheck = (data as { recheck?: unknown }).recheck;
  if (typeof recheck !== 'object' || recheck === null) return data;
  return { ...data, recheck: { ...recheck, checkedAt: '' } };
}
