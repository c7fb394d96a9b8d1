/**
 * The scheduled queue sweep's event: the constant input of the EventBridge schedule that
 * invokes the remediation steps function every few minutes (infra/parts/queue-sweep.ts), told
 * apart from the state machine's step events by its shape.
 */
export const QUEUE_SWEEP_EVENT = { sweep: 'queues' } as const;

/** How often the sweep runs, minutes. */
export const QUEUE_SWEEP_MINUTES = 5;

export function isQueueSweepEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { sweep?: unknown }).sweep === 'queues';
}
