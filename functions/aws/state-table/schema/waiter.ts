/**
 * The fleet's queue (docs/adr/0032-a-queue-not-a-poll.md): an execution that cannot take a
 * lease now parks its Step Functions task token here and waits, spending nothing, until a
 * release hands it the slot.
 *
 * - `queue#<fleet>#<az>` / `<launchTime>#<instanceId>`: one waiter. The sort key is the order
 *   the zone's waiters are served in (oldest launch time first); a waiter that parks again
 *   (its heartbeat lapsed) takes the same place, with its new token.
 * - `queue#<fleet>` / `zones`: the zones that ever had a waiter (a string set), so the granter
 *   reads one head per zone instead of the whole queue.
 *
 * A grant is written on the waiter (`granted`, the lease as the execution receives it) before
 * the token is sent, so a granter that dies between the two leaves it for the sweeper, and a
 * waiter in another process (a second `phoenix reconcile`) finds it by reading.
 */
import { type Item, itemKey, str } from './table';

/** One parked execution. */
export interface Waiter {
  fleet: string;
  az: string;
  /** ISO-8601 launch time of the instance replaced (the queue's order within a zone). */
  launchTime: string;
  instanceId: string;
  /** The execution ARN: the lease's holder once granted. */
  holder: string;
  /** The task token the grant is sent to. */
  token: string;
  /** The execution's state as the lease step received it (JSON): what a granter tries the lease with. */
  data: string;
  /** ISO-8601. */
  parkedAt: string;
  /** ISO-8601: the last heartbeat sent (or, for a local waiter, its own sign of life). */
  heartbeatAt: string;
  /** Set once granted: the lease result sent (JSON). */
  granted?: string;
  /** Set once refused for good: `{ error, cause }` (JSON), the task failure sent. */
  failed?: string;
  /** ISO-8601: when `granted` or `failed` was written. */
  answeredAt?: string;
  /**
   * ISO-8601: when a granter sent the answer to a token it could not deliver itself (a local
   * run's, parked by another process). Until then an answer read from the waiter may not be
   * sent yet (a wave's are sent when the admission's pass ends).
   */
  sentAt?: string;
}

const QUEUE_PREFIX = 'queue#';
/** A launch time for an instance whose launch time is unknown: served after every known one. */
export const UNKNOWN_LAUNCH_TIME = '9999-12-31T23:59:59.999Z';

/** The partition of one zone's waiters. */
export function waiterPk(fleet: string, az: string): string {
  return `${QUEUE_PREFIX}${fleet}#${az}`;
}

export function waiterKey(key: Pick<Waiter, 'fleet' | 'az' | 'launchTime' | 'instanceId'>): Item {
  return itemKey(waiterPk(key.fleet, key.az), `${key.launchTime}#${key.instanceId}`);
}

/** The item listing the zones of a fleet's queue. */
export function queueZonesKey(fleet: string): Item {
  return itemKey(`${QUEUE_PREFIX}${fleet}`, 'zones');
}

/** The item naming the one admission serving a fleet's queue now (`holder`, `expiresAt`, `again`). */
export function queueGranterKey(fleet: string): Item {
  return itemKey(`${QUEUE_PREFIX}${fleet}`, 'granter');
}

export function waiterItem(waiter: Waiter): Item {
  const item: Item = {
    ...waiterKey(waiter),
    fleet: { S: waiter.fleet },
    az: { S: waiter.az },
    launchTime: { S: waiter.launchTime },
    instanceId: { S: waiter.instanceId },
    holder: { S: waiter.holder },
    taskToken: { S: waiter.token },
    data: { S: waiter.data },
    parkedAt: { S: waiter.parkedAt },
    heartbeatAt: { S: waiter.heartbeatAt },
  };
  if (waiter.granted !== undefined) item.granted = { S: waiter.granted };
  if (waiter.failed !== undefined) item.failed = { S: waiter.failed };
  if (waiter.answeredAt !== undefined) item.answeredAt = { S: waiter.answeredAt };
  if (waiter.sentAt !== undefined) item.sentAt = { S: waiter.sentAt };
  return item;
}

export function waiterFromItem(item: Item): Waiter {
  const waiter: Waiter = {
    fleet: str(item, 'fleet') ?? '',
    az: str(item, 'az') ?? '',
    launchTime: str(item, 'launchTime') ?? UNKNOWN_LAUNCH_TIME,
    instanceId: str(item, 'instanceId') ?? '',
    holder: str(item, 'holder') ?? '',
    token: str(item, 'taskToken') ?? '',
    data: str(item, 'data') ?? '{}',
    parkedAt: str(item, 'parkedAt') ?? '',
    heartbeatAt: str(item, 'heartbeatAt') ?? '',
  };
  const granted = str(item, 'granted');
  if (granted !== undefined) waiter.granted = granted;
  const failed = str(item, 'failed');
  if (failed !== undefined) waiter.failed = failed;
  const answeredAt = str(item, 'answeredAt');
  if (answeredAt !== undefined) waiter.answeredAt = answeredAt;
  const sentAt = str(item, 'sentAt');
  if (sentAt !== undefined) waiter.sentAt = sentAt;
  return waiter;
}
