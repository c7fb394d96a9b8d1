/**
 * What a reconcile run says while it works ({@link ReconcileProgress}), and the printer that
 * shows it: live on a terminal, one line per event anywhere else.
 */
import type { DriftReason } from '../domain/model';
import type { HeldInstance, RemediationRecord, RoundRecord } from './report';
import { plural, reasonsText, seconds } from './text';

/** What reconcile reports while it works. */
export type ReconcileProgress =
  | { type: 'round'; round: number; pending: number }
  | { type: 'sweep'; round: number; record: RoundRecord }
  | { type: 'execution-start'; instanceId: string; fleet: string; execution: string; reasons: DriftReason[] }
  | { type: 'state'; instanceId: string; fleet: string; state: string; elapsedMs: number; retry?: string }
  | { type: 'execution-end'; record: RemediationRecord }
  | { type: 'held'; held: HeldInstance }
  | { type: 'rollout'; line: string };

/** A terminal control sequence (cursor moves, line clears). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/**
 * Shows progress as it happens. On a terminal, one line per running execution (instance,
 * fleet, step, elapsed) is rewritten in place, and finished work scrolls above it; anywhere
 * else, one plain line per event.
 */
export class ProgressPrinter {
  readonly #write: (text: string) => void;
  readonly #live: boolean;
  readonly #running = new Map<string, { fleet: string; state: string; since: number }>();
  readonly #prefix: string;
  #drawn = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param write  writes one chunk of text and a line break (`CliIo.stdout`)
   * @param live   rewrite running executions in place (a terminal)
   * @param prefix put before every line (the demo indents progress under its steps)
   */
  constructor(write: (text: string) => void, live: boolean, prefix = '') {
    this.#write = write;
    this.#live = live;
    this.#prefix = prefix;
  }

  /** Feed this to the reconciler's `onProgress`. */
  readonly onProgress = (event: ReconcileProgress): void => {
    const lines = this.#linesFor(event);
    if (!this.#live) {
      for (const line of lines) this.#write(`${this.#prefix}${line}`);
      return;
    }
    if (event.type === 'execution-start') {
      this.#running.set(event.instanceId, { fleet: event.fleet, state: 'Starting', since: Date.now() });
      this.#ensureTimer();
    } else if (event.type === 'state') {
      const running = this.#running.get(event.instanceId);
      if (running !== undefined)
        running.state = event.retry === undefined ? event.state : `${event.state} (retry)`;
    } else if (event.type === 'execution-end') {
      this.#running.delete(event.record.instanceId);
    }
    this.#draw(event.type === 'state' ? [] : lines);
  };

  /** Stops the clock and leaves the screen clean. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#live) {
      this.#running.clear();
      this.#draw([]);
    }
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running.size > 0) this.#draw([]);
    }, 250);
    this.#timer.unref();
  }

  #draw(permanent: string[]): void {
    const now = Date.now();
    const block = [...this.#running.entries()].map(
      ([id, r]) => `  ▸ ${id}  ${r.fleet.padEnd(12)} ${r.state.padEnd(30)} ${seconds(now - r.since)}`,
    );
    const lines = [...permanent, ...block].map((line) => `${this.#prefix}${line}`);
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}A\x1b[J` : '';
    if (lines.length === 0) {
      if (this.#drawn > 0) this.#write(`${up}\x1b[1A`);
    } else {
      this.#write(`${up}${lines.join('\n')}`);
    }
    this.#drawn = block.length;
  }

  #linesFor(event: ReconcileProgress): string[] {
    switch (event.type) {
      case 'round':
        return event.round === 0
          ? [`Running ${plural(event.pending, 'remediation')} started by events…`]
          : [`Round ${event.round}: sweeping every declared fleet…`];
      case 'sweep': {
        const r = event.record;
        const acted = r.started === 0 ? 'nothing new to do' : `${plural(r.started, 'remediation')} started`;
        const more = [
          r.alreadyStarted > 0 ? `${r.alreadyStarted} already handled` : '',
          r.held > 0 ? `${r.held} not replaced` : '',
        ].filter((s) => s !== '');
        return [
          `Round ${r.round}: judged ${plural(r.judged, 'instance')}: ${r.inSync} in sync, ${r.drifted} drifted${r.notApplicable > 0 ? `, ${r.notApplicable} not applicable` : ''} → ${acted}${more.length > 0 ? ` (${more.join(', ')})` : ''}`,
        ];
      }
      case 'execution-start':
        return [`  ${event.instanceId} (${event.fleet}) drifted: ${reasonsText(event.reasons)}`];
      case 'state':
        return [
          `  [${seconds(event.elapsedMs).padStart(6)}] ${event.instanceId} ${event.state}${event.retry === undefined ? '' : ` retried after ${event.retry}`}`,
        ];
      case 'execution-end':
        return [
          `  [${seconds(event.record.durationMs).padStart(6)}] ${event.record.instanceId} ${endText(event.record)}`,
        ];
      case 'held':
        return [`  ${event.held.instanceId} (${event.held.fleet}) not replaced: ${event.held.why}`];
      case 'rollout':
        return [`  ${event.line}`];
    }
  }
}

function endText(record: RemediationRecord): string {
  switch (record.outcome) {
    case 'succeeded':
      return `replaced by ${record.replacementId ?? 'its replacement'} ✓`;
    case 'skipped':
      return `skipped: ${record.reason}`;
    case 'blocked':
      return `blocked: ${record.detail}`;
    case 'manual-action-required':
      return `manual action required: ${record.detail}`;
    case 'rolled-back':
      return `ROLLED BACK (${record.error ?? 'error'})`;
    case 'failed':
    case 'error':
      return `FAILED (${record.error ?? 'error'}): ${record.cause ?? record.detail}`;
  }
}

/** Text without terminal control sequences (for logs and tests). */
export function plainText(text: string): string {
  return text.replace(ANSI, '');
}
