import { describe, expect, it } from 'vitest';
import { ProgressPrinter, plainText } from '../../functions/local/progress';
import { record } from './builders';

describe('ProgressPrinter', () => {
  const events = [
    { type: 'round', round: 1, pending: 0 },
    { type: 'execution-start', instanceId: 'i-1', fleet: 'web', execution: 'e', reasons: record({}).reasons },
    { type: 'state', instanceId: 'i-1', fleet: 'web', state: 'AcquireLease', elapsedMs: 1200 },
    {
      type: 'state',
      instanceId: 'i-1',
      fleet: 'web',
      state: 'AcquireLease',
      elapsedMs: 1300,
      retry: 'LeaseDeniedError',
    },
    { type: 'execution-end', record: record({}) },
  ] as const;

  it('writes one plain line per event when no terminal is watching', () => {
    const lines: string[] = [];
    const printer = new ProgressPrinter((text) => lines.push(text), false);
    for (const event of events) printer.onProgress(event);
    printer.stop();
    expect(lines).toEqual([
      'Round 1: sweeping every declared fleet…',
      '  i-1 (web) drifted: tags.Owner: expected team-web, found eve',
      '  [  1.2s] i-1 AcquireLease',
      '  [  1.3s] i-1 AcquireLease retried after LeaseDeniedError',
      '  [  1.8s] i-1 replaced by i-2 ✓',
    ]);
  });

  it('on a terminal, redraws the running executions in place and leaves only finished lines behind', () => {
    const writes: string[] = [];
    const printer = new ProgressPrinter((text) => writes.push(text), true);
    for (const event of events) printer.onProgress(event);
    printer.stop();

    const all = writes.join('\n');
    expect(all).toMatch(/▸ i-1 {2}web {10}AcquireLease \(retry\)/);
    // Every redraw first moves up over the block it drew last and clears it.
    expect(writes.filter((w) => w.startsWith(`${String.fromCharCode(27)}[1A`)).length).toBeGreaterThan(1);
    expect(plainText(writes.at(-1) ?? '')).toBe('  [  1.8s] i-1 replaced by i-2 ✓');
  });
});
