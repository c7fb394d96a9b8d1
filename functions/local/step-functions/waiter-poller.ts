/**
 * One reader per queue partition for a local run's parked tasks: every task of this process
 * parked in one fleet's zone is answered from one Query of that partition a poll, where each
 * used to read its own waiter (about 125 reads an instance in the fleet run). A grant made in
 * this process needs no read at all: its task is answered in memory and leaves the poller.
 *
 * The poller also keeps its tasks' waiters alive (a sweep forgets a local waiter silent for
 * five minutes) and admits for the fleet now and then, as the deployed sweep would (a lost
 * wake-up, a bake that ended, a granter that died): one admission per fleet per
 * `pollMs × admitEvery`, however many of its executions wait.
 */
import type { RemediationStore, Waiter, WaiterKey } from '../../aws/remediation-store';
import { isTransientAwsError } from '../../aws/transient';
import { admit, RESEND_AFTER_MS, type StepDeps } from '../../remediation/steps';

/** What a task parked in the table is answered with: the lease step's output, or its failure. */
export type Answer = { ok: true; output: unknown } | { ok: false; error: string; cause: string };

/**
 * How often a parked local task's partition is read (a grant made by another process) and the
 * fleet admitted: the first read soon after a task parks, then less and less often, never
 * rarer than `maxPollMs`.
 */
export interface CallbackPacing {
  pollMs: number;
  maxPollMs: number;
  /** Admit every this many polls (a lost wake-up, a bake that ended, a granter that died). */
  admitEvery: number;
  /** Record a sign of life at least this often (a sweep forgets a local waiter silent for five minutes). */
  touchEveryMs: number;
}

/** A task parked in the table and read for by a {@link PartitionPoller}. */
export interface ParkedTask {
  token: string;
  key: WaiterKey;
  deps: StepDeps;
  pacing: CallbackPacing;
  /**
   * The table the task waits in, as the run knows it: its own DynamoDB client (each execution's
   * store wraps it to count its calls) and the table's name. The tasks of one table share a
   * poller per partition; two reconcilers in one process keep theirs.
   */
  table: PollerTable;
  /** Whether the task still waits for an answer (false once its own process answered it in memory). */
  waiting: () => boolean;
  /** Its answer from the table, or `lost`: its waiter is gone, or parked again with another token. */
  settle: (answer: Answer | 'lost') => void;
}

/** A table as the tasks that wait in it share it (see {@link ParkedTask.table}). */
export interface PollerTable {
  client: object;
  name: string;
}

type PollStore = Pick<RemediationStore, 'listWaiters' | 'removeWaiter' | 'touchWaiter'>;

/** When a poller of this process last admitted for each fleet. */
const lastAdmitted = new Map<string, number>();
/** The pollers, by what their tasks share and by table and partition (kept idle between waits). */
const pollers = new WeakMap<object, Map<string, PartitionPoller>>();

/** Reads for `task` from its partition's poller (started if none runs) until it is answered or removed. */
export function pollFor(task: ParkedTask): { stop: () => void } {
  const byPartition = pollers.get(task.table.client) ?? new Map<string, PartitionPoller>();
  pollers.set(task.table.client, byPartition);
  const partition = `${task.table.name}\u0000${task.key.fleet}\u0000${task.key.az}`;
  const poller = byPartition.get(partition) ?? new PartitionPoller(task.key.fleet, task.key.az);
  byPartition.set(partition, poller);
  poller.add(task);
  return { stop: () => poller.remove(task.token) };
}

/**
 * The answer on the waiter, once it is this task's to take: sent by a granter of another
 * process, or written so long ago that its granter is taken for dead (as the deployed sweep
 * resends it). One written and not sent yet is a wave's grant whose admission has not ended
 * its pass: taken now, the member would raise its group before the rest of its wave is granted.
 */
export function answerOf(waiter: Waiter, now: number): Answer | undefined {
  const sent = waiter.sentAt !== undefined || now - Date.parse(waiter.answeredAt ?? '') >= RESEND_AFTER_MS;
  if (!sent) return undefined;
  if (waiter.granted !== undefined) return { ok: true, output: JSON.parse(waiter.granted) };
  if (waiter.failed === undefined) return undefined;
  const { error, cause } = JSON.parse(waiter.failed) as { error?: string; cause?: string };
  return { ok: false, error: error ?? 'States.TaskFailed', cause: cause ?? '' };
}

/** The parked tasks of one fleet's zone in this process, and the one loop that reads for them. */
class PartitionPoller {
  readonly #fleet: string;
  readonly #az: string;
  readonly #tasks = new Map<string, { task: ParkedTask; touched: number }>();
  #pause = 0;
  /** When the loop last ended (its tasks all answered): a restart soon after keeps its pace. */
  #endedAt = Number.NEGATIVE_INFINITY;
  #wake: (() => void) | undefined;
  #running = false;

  constructor(fleet: string, az: string) {
    this.#fleet = fleet;
    this.#az = az;
  }

  add(task: ParkedTask): void {
    this.#tasks.set(task.token, { task, touched: Date.now() });
    if (this.#running) return;
    // The first read soon, then less and less often. A task that parks while others wait, or
    // just after they left (a wave's members come and go together), is read for at their pace:
    // a grant in this process reaches it at once anyway, and reading sooner for each newcomer
    // would read the partition as often as each task read its own.
    if (Date.now() - this.#endedAt > task.pacing.maxPollMs) this.#pause = task.pacing.pollMs;
    this.#running = true;
    void this.#loop();
  }

  remove(token: string): void {
    this.#tasks.delete(token);
    if (this.#tasks.size === 0) this.#wake?.();
  }

  async #loop(): Promise<void> {
    for (let poll = 1; this.#tasks.size > 0; poll += 1) {
      const pacing = this.#pacing();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#pause);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      this.#pause = Math.min(pacing.maxPollMs, this.#pause * 2);
      const first = this.#tasks.values().next().value?.task;
      if (first === undefined) break;
      const store = first.deps.store as PollStore;
      let waiters: Waiter[] | undefined;
      try {
        waiters = await store.listWaiters(this.#fleet, this.#az);
      } catch (error) {
        // A slow or throttled account: the next poll reads again. Anything else (the role may
        // not read the table) fails the tasks with it, as a step's failure would.
        if (!isTransientAwsError(error)) this.#failAll(error);
      }
      // Help, not the wait itself: a write or an admission that fails must not fail the tasks
      // and leave their waiters behind; the next poll tries again.
      try {
        if (waiters !== undefined) await this.#answer(store, waiters);
      } catch {}
      try {
        await this.#admit(first.deps, pacing, poll);
      } catch {}
    }
    this.#running = false;
    this.#endedAt = Date.now();
  }

  /** Every task fails with `error` (the partition cannot be read). */
  #failAll(error: unknown): void {
    for (const [token, { task }] of this.#tasks) {
      this.#tasks.delete(token);
      if (task.waiting()) task.settle({ ok: false, error: 'States.TaskFailed', cause: String(error) });
    }
  }

  /** Settles every task whose waiter, as the partition was read, is answered, gone or parked again. */
  async #answer(store: PollStore, waiters: readonly Waiter[]): Promise<void> {
    const byInstance = new Map(waiters.map((w) => [`${w.launchTime}\u0000${w.instanceId}`, w]));
    for (const [token, entry] of this.#tasks) {
      const { task } = entry;
      // Answered in memory meanwhile (its own process's grant): that answer stands.
      if (!task.waiting()) {
        this.#tasks.delete(token);
        continue;
      }
      const waiter = byInstance.get(`${task.key.launchTime}\u0000${task.key.instanceId}`);
      if (waiter === undefined || waiter.token !== token) {
        this.#tasks.delete(token);
        task.settle('lost');
        continue;
      }
      const answer = answerOf(waiter, task.deps.clock().getTime());
      if (answer !== undefined) {
        // Taken off the table first: one that fails to go is read and taken at the next poll.
        await store.removeWaiter(waiter);
        this.#tasks.delete(token);
        task.settle(answer);
        continue;
      }
      if (Date.now() - entry.touched >= task.pacing.touchEveryMs) {
        entry.touched = Date.now();
        await store.touchWaiter(waiter, task.deps.clock().toISOString());
      }
    }
  }

  /** Admits for the fleet every `admitEvery` polls, once per fleet in this process in that time. */
  async #admit(deps: StepDeps, pacing: CallbackPacing, poll: number): Promise<void> {
    if (poll % pacing.admitEvery !== 0 || deps.callbacks === undefined) return;
    if (Date.now() - (lastAdmitted.get(this.#fleet) ?? 0) < pacing.pollMs * pacing.admitEvery) return;
    lastAdmitted.set(this.#fleet, Date.now());
    await admit({ ...deps, callbacks: deps.callbacks }, this.#fleet);
  }

  /** The pacing of the partition's first task (a run's tasks share one). */
  #pacing(): CallbackPacing {
    const first = this.#tasks.values().next().value;
    if (first === undefined) throw new Error('a poller with no task has no pacing');
    return first.task.pacing;
  }
}
