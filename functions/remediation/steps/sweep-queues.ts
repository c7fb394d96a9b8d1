/**
 * The scheduled sweep of the fleet queues (docs/adr/0032-a-queue-not-a-poll.md), every five
 * minutes deployed and between rounds of `phoenix reconcile`: heartbeats waiters, resends
 * grants a granter wrote and did not send, forgets waiters whose execution is gone, and admits.
 */

import type { Delivery } from '../../aws/task-callbacks';
import type { StepDeps } from './deps';
import { type AdmitReport, admit, type QueueDeps, requireCallbacks, settleSent } from './granter';

/** The sweep heartbeats a waiter whose last sign of life is older than this (the task's HeartbeatSeconds is 3600). */
export const HEARTBEAT_EVERY_MS = 30 * 60_000;
/** A grant written this long ago and still not taken is sent again by the sweep (the granter died). */
export const RESEND_AFTER_MS = 60_000;
/** A local waiter (a `phoenix reconcile` process) silent this long is gone. */
export const LOCAL_WAITER_SILENT_MS = 5 * 60_000;

/** What one sweep did, per fleet. */
export interface SweepReport {
  admitted: AdmitReport[];
  heartbeats: number;
  resent: number;
  /** Waiters whose execution was gone, forgotten. */
  forgotten: number;
}

/**
 * The scheduled sweep: for every declared fleet with a queue, heartbeats each waiter due one,
 * sends again a grant written and not taken, forgets waiters whose execution is gone, then
 * admits. Deployed every five minutes; `phoenix reconcile` runs it between rounds.
 */
export async function sweepQueues(deps: StepDeps): Promise<SweepReport> {
  const queue = requireCallbacks(deps);
  const report: SweepReport = { admitted: [], heartbeats: 0, resent: 0, forgotten: 0 };
  const now = deps.clock().getTime();
  for (const fleet of deps.desiredState.fleets) {
    const zones = await deps.store.queueZones(fleet.name);
    if (zones.length === 0) continue;
    for (const zone of zones) {
      for (const waiter of await deps.store.listWaiters(fleet.name, zone)) {
        const local = waiter.token.startsWith('local:');
        if (waiter.granted !== undefined || waiter.failed !== undefined) {
          if (local || now - Date.parse(waiter.answeredAt ?? '') < RESEND_AFTER_MS) continue;
          const delivery =
            waiter.granted !== undefined
              ? await queue.callbacks.succeed(waiter.token, JSON.parse(waiter.granted))
              : await resendFailure(queue, waiter.token, waiter.failed ?? '{}');
          report.resent += 1;
          // Delivered or gone, the answer is out of the queue; a gone holder's lease runs out by its TTL.
          await settleSent(queue, waiter, delivery);
          continue;
        }
        const silent = now - Date.parse(waiter.heartbeatAt);
        if (local) {
          if (silent >= LOCAL_WAITER_SILENT_MS) {
            await deps.store.removeWaiter(waiter);
            report.forgotten += 1;
          }
          continue;
        }
        if (silent < HEARTBEAT_EVERY_MS) continue;
        const delivery = await queue.callbacks.heartbeat(waiter.token);
        report.heartbeats += 1;
        if (delivery === 'gone') {
          await deps.store.removeWaiter(waiter);
          report.forgotten += 1;
        } else {
          await deps.store.touchWaiter(waiter, new Date(now).toISOString());
        }
      }
    }
    report.admitted.push(await admit(queue, fleet.name));
  }
  return report;
}

function resendFailure(deps: QueueDeps, token: string, failed: string): Promise<Delivery> {
  const { error, cause } = JSON.parse(failed) as { error?: string; cause?: string };
  return deps.callbacks.fail(token, error ?? 'States.TaskFailed', cause ?? '');
}
