/**
 * The one granter of a fleet's waiters (docs/adr/0032-a-queue-not-a-poll.md): {@link admit},
 * run after every park, every release, and from the scheduled sweep. It serves the oldest
 * launch time first, spread across Availability Zones (the zone with fewest replacements in
 * flight goes next), tries each head's lease as the waiter would, writes the grant on the
 * waiter (once, whoever grants), and only then sends it; a wave's grants when its pass ends
 * (docs/adr/0034-waves.md). Two granters at once cannot overspend: every grant is the lease's
 * own conditional transaction, and one admission at a time serves a fleet (its granter item).
 */

import { randomUUID } from 'node:crypto';
import { AlarmsUnavailableError } from '../../aws/errors';
import type { Waiter } from '../../aws/remediation-store';
import type { Delivery, TaskCallbacks } from '../../aws/task-callbacks';
import { PhoenixError } from '../../domain/errors';
import { launchTokensSentence } from '../../domain/gate/messages';
import { validate } from '../../runtime/validation';
import {
  GroupBusyError,
  LeaseDeniedError,
  NoLongerWantedError,
  RolloutWaitError,
  StepInputError,
  WaiterAnsweredError,
} from '../errors';
import { type MachineData, MachineDataSchema } from '../input';
import { requireFleet, type StepContext, type StepDeps } from './deps';
import { giveBackLease, type LeaseResult, takeLease } from './lease';
import { recheck } from './recheck';

/** How long an admission may hold its fleet's granter item before another may take it (its holder died). */
const GRANTER_TTL_SECONDS = 60;
/** Tries at taking the granter item while holders come and go. */
const GRANTER_ATTEMPTS = 3;
/** Passes one admission makes when asked again and again; then it gives the item back (the next release or the sweep serves). */
const GRANTER_PASSES = 10;
/** How old a pass's reading of the queue and the leases may be when it picks the next zone. */
const QUEUE_FRESH_MS = 1_000;
/** Waiters read per zone in one admission (one Query each, whatever the queue's length). */
const HEADS_PER_ZONE = 25;

/** A zone for an instance whose zone is unknown (an execution older than the queue). */
export const UNKNOWN_ZONE = 'unknown';

/** The steps' deps the queue needs: the callbacks answer tokens. */
export type QueueDeps = StepDeps & { callbacks: TaskCallbacks };

/** A refusal other replacements' ends lift: the execution waits in the queue for them. */
export function queues(error: unknown): error is LeaseDeniedError | GroupBusyError {
  return (
    (error instanceof LeaseDeniedError && error.limit === 'concurrency') || error instanceof GroupBusyError
  );
}

/** Errors that mean "not now": the waiter keeps its place. */
export function isWait(error: unknown): boolean {
  return (
    queues(error) ||
    error instanceof GroupBusyError ||
    error instanceof RolloutWaitError ||
    error instanceof AlarmsUnavailableError
  );
}

export function requireCallbacks(deps: StepDeps): QueueDeps {
  if (deps.callbacks === undefined)
    throw new StepInputError('the lease step was given a task token but no way to answer it');
  return deps as QueueDeps;
}

/** How old a recheck may be and still stand for "still wanted, may start now" at the lease. */
const RECHECK_FRESH_MS = 30_000;

/**
 * The execution's state with a recheck no older than {@link RECHECK_FRESH_MS}: the one it
 * carries, or a fresh one. No longer wanted: {@link NoLongerWantedError}. A closed window:
 * `wait` says why (it waits in the queue, where its granter asks again).
 */
export async function recheckedIfStale(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ data: MachineData; wait?: string }> {
  const age = deps.clock().getTime() - Date.parse(data.recheck?.checkedAt ?? '');
  if (age >= 0 && age <= RECHECK_FRESH_MS) return { data };
  const fresh = await recheck(deps, data, ctx);
  if (fresh.decision === 'skip')
    throw new NoLongerWantedError(fresh.detail, { reason: fresh.reason, notify: fresh.notify });
  const current = { ...data, recheck: fresh };
  return fresh.decision === 'wait' ? { data: current, wait: fresh.detail } : { data: current };
}

/** What one admission did. */
export interface AdmitReport {
  fleet: string;
  granted: Array<{ instanceId: string; az: string; holder: string; delivery: Delivery }>;
  /** Waiters refused for good (their task failed with the error named). */
  refused: Array<{ instanceId: string; error: string }>;
  /** Why the rest keep waiting (the budget, the group's lock, a rollout's wait), when any do. */
  waiting?: string;
  /** How many waited in the fleet's queue when the admission began. */
  waitingBefore?: number;
}

/**
 * Grants the fleet's free slots to its waiters, oldest launch time first, spread across
 * zones. Idempotent and safe beside other granters: each grant is the lease's conditional
 * transaction, and the waiter's answer is written once.
 */
export async function admit(deps: QueueDeps, fleetName: string): Promise<AdmitReport> {
  const report: AdmitReport = { fleet: fleetName, granted: [], refused: [] };
  const zonesReadAt = deps.clock().toISOString();
  const { zones, waiting } = await deps.store.queueState(fleetName);
  if (zones.length === 0) return report;
  report.waitingBefore = waiting;
  // One admission at a time per fleet, so each reads the counts the last one left. Another
  // serving it now is asked to pass once more (what freed capacity since it read is served).
  const me = randomUUID();
  for (let attempt = 1; !(await deps.store.takeGranter(fleetName, me, GRANTER_TTL_SECONDS)); attempt += 1) {
    if (await deps.store.askGranterAgain(fleetName)) {
      report.waiting = 'another admission serves the fleet now, and passes again for this one';
      return report;
    }
    if (attempt >= GRANTER_ATTEMPTS) {
      report.waiting =
        "the fleet's admissions changed hands too often; the next release or the sweep serves it";
      return report;
    }
  }
  try {
    // The first pass uses the zones read above (as of then); each pass after reads them again.
    let seen: { zones: string[]; at: string } | undefined = { zones, at: zonesReadAt };
    for (let pass = 1; ; pass += 1) {
      await admitPass(deps, fleetName, report, seen);
      seen = undefined;
      const last = pass >= GRANTER_PASSES;
      if ((await deps.store.leaveGranter(fleetName, me, { force: last })) === 'left') return report;
    }
  } catch (error) {
    await deps.store.leaveGranter(fleetName, me, { force: true });
    throw error;
  }
}

/** One pass over the fleet's queue: the heads of every zone, served until the fleet is busy. */
async function admitPass(
  deps: QueueDeps,
  fleetName: string,
  report: AdmitReport,
  zonesRead?: { zones: string[]; at: string },
): Promise<void> {
  // A long pass (each grant rechecks its waiter first) reads the queue again when its reading
  // is older than {@link QUEUE_FRESH_MS}: the next grant goes to the zone with fewest in
  // flight now, and a waiter parked meanwhile is among the heads.
  let reading = await readQueue(deps, fleetName, zonesRead);
  if (reading.heads.size === 0) return;
  // A wave's grants are sent when the pass ends (docs/adr/0034-waves.md): written on their
  // waiters at once, so a granter that dies first leaves them for the sweep to send, but no
  // member runs ahead and raises the group before the pass has granted the rest of its wave.
  const wave: Array<{ zone: string; waiter: Waiter; send: () => Promise<Delivery> }> = [];
  // Each grant launches an instance: no more than EC2's RunInstances tokens allow now, by
  // Phoenix's estimate, so that no replacement holds a slot while its launch is throttled.
  let tokens = await deps.store.launchTokens();
  let granted = 0;
  try {
    // A waiter whose lease was taken and never answered (its granter died between the two, or
    // lost the answer to a re-park) is served first, whatever its place: its lease costs nothing
    // more, and until it is answered it holds a slot (and perhaps its group's lock) that no one uses.
    for (const [zone, waiters] of reading.heads) {
      for (const waiter of waiters.filter((w) => reading.holding.has(w.holder))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        const outcome = await grantOne(deps, waiter, reading.at);
        if (outcome.kind === 'granted' && outcome.delivery === 'later')
          wave.push({ zone, waiter, send: outcome.send });
        else record(report, waiter, zone, outcome);
      }
    }
    for (;;) {
      if (deps.clock().getTime() - Date.parse(reading.at) > QUEUE_FRESH_MS)
        reading = await readQueue(deps, fleetName);
      const { heads, inFlight } = reading;
      const zone = nextZone(heads, inFlight);
      if (zone === undefined) return;
      if (tokens < 1) {
        report.waiting = launchTokensSentence(tokens);
        return;
      }
      const waiter = heads.get(zone)?.shift();
      if (waiter === undefined) continue;
      const outcome = await grantOne(deps, waiter, reading.at);
      if (outcome.kind === 'granted') {
        tokens -= 1;
        // A wave's launches are counted with its raise's record.
        if (outcome.delivery !== 'later') granted += 1;
      }
      if (outcome.kind === 'wait') {
        report.waiting = outcome.reason;
        return;
      }
      if (outcome.kind === 'granted' && outcome.delivery === 'later')
        wave.push({ zone, waiter, send: outcome.send });
      else record(report, waiter, zone, outcome);
      if (outcome.kind === 'granted' && outcome.delivery !== 'gone')
        inFlight.set(zone, (inFlight.get(zone) ?? 0) + 1);
    }
  } finally {
    await spentLaunchTokens(deps, granted);
    for (const { zone, waiter, send } of wave)
      record(report, waiter, zone, { kind: 'granted', delivery: await send() });
  }
}

/**
 * What a pass serves by: each zone's head (its waiters not answered yet), the leases in flight
 * per zone and their holders, and when the queue was read (a grant carries it).
 */
interface QueueReading {
  at: string;
  heads: Map<string, Waiter[]>;
  inFlight: Map<string, number>;
  holding: Set<string>;
}

/** The fleet's queue read now, or as of `given` for its zones (read by the admission before its first pass). */
async function readQueue(
  deps: QueueDeps,
  fleetName: string,
  given?: { zones: string[]; at: string },
): Promise<QueueReading> {
  const reading: QueueReading = {
    at: given?.at ?? deps.clock().toISOString(),
    heads: new Map(),
    inFlight: new Map(),
    holding: new Set(),
  };
  const zones = given?.zones ?? (await deps.store.queueState(fleetName)).zones;
  await Promise.all(
    zones.map(async (zone) => {
      const waiters = (await deps.store.zoneHeads(fleetName, zone, HEADS_PER_ZONE)).filter(
        (w) => w.granted === undefined && w.failed === undefined,
      );
      if (waiters.length > 0) reading.heads.set(zone, waiters);
    }),
  );
  if (reading.heads.size === 0) return reading;
  for (const lease of await deps.store.listLeases(fleetName)) {
    if (!lease.sk.startsWith('slot#')) continue;
    reading.holding.add(lease.holder);
    const zone = lease.az ?? UNKNOWN_ZONE;
    reading.inFlight.set(zone, (reading.inFlight.get(zone) ?? 0) + 1);
  }
  return reading;
}

/**
 * Grants made, taken off Phoenix's estimate of EC2's RunInstances tokens (each launches an
 * instance within seconds), by which the granter sizes what it grants. Counted at the grant,
 * not the launch, so that the next admission does not count tokens a grant is about to use; a
 * wave's, with its raise's record (a second or so later). Best effort: an estimate never fails
 * a grant that was made.
 */
export async function spentLaunchTokens(deps: Pick<StepDeps, 'store'>, count: number): Promise<void> {
  try {
    await deps.store.spendLaunchTokens(count);
  } catch {
    // The next admission counts from an older reading: at worst a wave waits on EC2's throttling.
  }
}

/** A grant or a refusal for good, in the admission's report. */
function record(report: AdmitReport, waiter: Waiter, zone: string, outcome: GrantOutcome): void {
  if (outcome.kind === 'granted' && outcome.delivery !== 'later')
    report.granted.push({
      instanceId: waiter.instanceId,
      az: zone,
      holder: waiter.holder,
      delivery: outcome.delivery,
    });
  else if (outcome.kind === 'refused')
    report.refused.push({ instanceId: waiter.instanceId, error: outcome.error });
}

/** The zone served next: fewest replacements in flight, then the oldest head, then by name. */
export function nextZone(
  heads: ReadonlyMap<string, readonly Waiter[]>,
  inFlight: ReadonlyMap<string, number>,
): string | undefined {
  let best: { zone: string; load: number; head: string } | undefined;
  for (const [zone, waiters] of heads) {
    const head = waiters[0];
    if (head === undefined) continue;
    const load = inFlight.get(zone) ?? 0;
    const key = `${head.launchTime}#${head.instanceId}`;
    if (
      best === undefined ||
      load < best.load ||
      (load === best.load && (key < best.head || (key === best.head && zone < best.zone)))
    )
      best = { zone, load, head: key };
  }
  return best?.zone;
}

type GrantOutcome =
  | { kind: 'granted'; delivery: Delivery }
  /** A member of its group's wave: written, sent when the pass ends. */
  | { kind: 'granted'; delivery: 'later'; send: () => Promise<Delivery> }
  | { kind: 'wait'; reason: string }
  | { kind: 'refused'; error: string }
  | { kind: 'taken' };

/** Tries one waiter's lease as its execution would, and answers its token. */
async function grantOne(deps: QueueDeps, waiter: Waiter, readAt: string): Promise<GrantOutcome> {
  const parked = parkedState(waiter);
  const ctx: StepContext = { executionId: waiter.holder };
  if (parked.startedAt !== undefined) ctx.startedAt = parked.startedAt;
  let lease: LeaseResult;
  try {
    if (parked.data === undefined) throw new StepInputError(parked.problem);
    requireFleet(deps, parked.data.fleet);
    // It waited: before anything is granted, is it still wanted, and may it start now? The
    // recheck's fresh reading (the group) is what the lease is measured by.
    const current = await recheckedIfStale(deps, { ...parked.data, recheck: undefined }, ctx);
    if (current.wait !== undefined) return { kind: 'wait', reason: current.wait };
    // Only while it still waits: a granter that read it before another answered it takes nothing.
    lease = await takeLease(deps, current.data, ctx, { waiter });
  } catch (error) {
    if (error instanceof WaiterAnsweredError) return { kind: 'taken' };
    if (isWait(error)) return { kind: 'wait', reason: (error as Error).message };
    if (!(error instanceof PhoenixError)) throw error;
    const failure = {
      error: error.name,
      cause: JSON.stringify({
        errorType: error.name,
        errorMessage: error.message,
        ...(error instanceof NoLongerWantedError ? { reason: error.reason, notify: error.notify } : {}),
      }),
    };
    if (
      !(await deps.store.answerWaiter(
        waiter,
        { failed: JSON.stringify(failure) },
        deps.clock().toISOString(),
      ))
    )
      return { kind: 'taken' };
    const delivery = await deps.callbacks.fail(waiter.token, failure.error, failure.cause);
    await settleSent(deps, waiter, delivery);
    return { kind: 'refused', error: error.name };
  }
  const granted: LeaseResult = {
    ...lease,
    queue: {
      az: waiter.az,
      launchTime: waiter.launchTime,
      parkedAt: waiter.parkedAt,
      grantedAt: deps.clock().toISOString(),
      readAt,
    },
  };
  // Written before it is sent: a granter that dies here leaves it for the sweep to send.
  if (
    !(await deps.store.answerWaiter(
      waiter,
      { granted: JSON.stringify(granted) },
      granted.queue?.grantedAt ?? '',
    ))
  )
    return { kind: 'taken' };
  const send = async (): Promise<Delivery> => {
    const delivery = await deps.callbacks.succeed(waiter.token, granted);
    if (delivery === 'gone' && parked.data !== undefined) {
      // The execution is gone (stopped, or parked again with a new token): the lease is nobody's.
      await giveBackLease(deps, { ...parked.data, lease: granted }, ctx);
    }
    await settleSent(deps, waiter, delivery);
    return delivery;
  };
  if (lease.groupLocked) return { kind: 'granted', delivery: 'later', send };
  return { kind: 'granted', delivery: await send() };
}

/**
 * After an answer was sent: delivered or gone, it leaves the queue; sent to another process's
 * token, it stays for that process to take, marked sent (until then that process cannot tell
 * it from a wave's grant not sent yet).
 */
export async function settleSent(deps: QueueDeps, waiter: Waiter, delivery: Delivery): Promise<void> {
  if (delivery === 'elsewhere') await deps.store.markWaiterSent(waiter, deps.clock().toISOString());
  else await deps.store.removeWaiter(waiter);
}

/** The execution's state as it parked it, validated as the steps validate every state. */
export function parkedState(waiter: Pick<Waiter, 'data'>): {
  data?: MachineData;
  startedAt?: string;
  problem: string;
} {
  let raw: { startedAt?: unknown; data?: unknown };
  try {
    raw = JSON.parse(waiter.data) as { startedAt?: unknown; data?: unknown };
  } catch {
    return { problem: 'the parked state is not JSON' };
  }
  const parsed = validate(MachineDataSchema, raw.data);
  if (!parsed.ok) return { problem: `the parked state is not usable: ${parsed.problem}` };
  return {
    data: parsed.value,
    ...(typeof raw.startedAt === 'string' ? { startedAt: raw.startedAt } : {}),
    problem: '',
  };
}

/** After anything that frees capacity (a lease, a group's lock): the next waiters, if the queue is wired. */
export async function admitAfterRelease(deps: StepDeps, fleet: string): Promise<void> {
  if (deps.callbacks === undefined) return;
  try {
    await admit(deps as QueueDeps, fleet);
  } catch (error) {
    // The caller's own work is done (its release, its park): a granter that could not finish
    // (throttled, a waiter it could not read) leaves the rest to the next release or the sweep.
    deps.logger?.info('queue.admit-deferred', {
      fleet,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
}
