/**
 * Benchmark 7, a fleet rollout for real (issue 14): an Auto Scaling group of 40 drifted members
 * and 20 drifted standalone instances, both across two Availability Zones, reconciled on the
 * emulated account by `phoenix reconcile`'s engine with `maxConcurrent: 25%` and
 * `minHealthyPercent: 100` (bench/lib/fleet-run-scenario.ts), judged by the five invariants of
 * bench/lib/fleet-run-check.ts. Reports the wall time of the reconcile, Phoenix's AWS calls
 * (total and by service), and one figure per invariant, each with a budget of 0 breaches.
 */
import { writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import {
  checkFleetRun,
  describeFinding,
  type FleetRunFinding,
  findingsOf,
  INVARIANTS,
} from './lib/fleet-run-check';
import { runFleetScenario } from './lib/fleet-run-scenario';
import type { Progress } from './lib/progress';
import type { BenchResult } from './lib/results';
import { median, range } from './lib/stats';

export const GROUP_SIZE = 40;
export const STANDALONE_SIZE = 20;
const MAX_CONCURRENT = '25%';
const MIN_HEALTHY_PERCENT = 100;
/** Findings printed per invariant in the notes (all are counted). */
const SHOWN_PER_INVARIANT = 5;

export async function fleetRunBench(options: {
  endpoint: string;
  /** Where the whole observation and its findings are written, for a closer look. */
  outfile: string;
  progress: Progress;
}): Promise<{ results: BenchResult[]; notes: string[] }> {
  const outcome = await runFleetScenario({
    endpoint: options.endpoint,
    prefix: 'bench-fleet',
    groupSize: GROUP_SIZE,
    standaloneSize: STANDALONE_SIZE,
    maxConcurrent: MAX_CONCURRENT,
    minHealthyPercent: MIN_HEALTHY_PERCENT,
    launchBatches: 4,
    progress: options.progress,
  });
  const { findings, figures } = checkFleetRun(outcome.observation, 'queue');
  // Today's polling judged by the same order rule, from the waits the run saw (informative).
  const observedOrder = findingsOf(checkFleetRun(outcome.observation, 'observed').findings, 'order');
  await writeFile(
    options.outfile,
    `${JSON.stringify({ observation: outcome.observation, findings, observedOrder, awsCalls: outcome.awsCalls }, null, 2)}\n`,
  );
  const count = (invariant: FleetRunFinding['invariant']) => findingsOf(findings, invariant).length;
  const totalCalls = Object.values(outcome.awsCalls).reduce((a, b) => a + b, 0);
  const byService = new Map<string, number>();
  for (const [operation, n] of Object.entries(outcome.awsCalls)) {
    const service = operation.slice(0, operation.indexOf('.'));
    byService.set(service, (byService.get(service) ?? 0) + n);
  }
  const lowest = Math.min(...Object.values(figures.minHealthyPercent));
  const fleets = outcome.observation.fleets;
  // How often the sampler managed to look: it asks every 150 ms, the busy emulator answers slower.
  const gaps = fleets.flatMap((f) => {
    const at = outcome.observation.samples.filter((s) => s.fleet === f.name).map((s) => s.at);
    return at.slice(1).map((t, i) => t - (at[i] ?? t));
  });
  const gapText =
    gaps.length === 0
      ? 'no interval'
      : `median ${Math.round(median(gaps))} ms between samples of a fleet (${Math.round(range(gaps).min)}-${Math.round(range(gaps).max)} ms)`;

  const results: BenchResult[] = [
    { name: 'fleet-run.wall-time', value: Math.round(outcome.wallMs), unit: 'ms', budget: null },
    { name: 'fleet-run.aws-calls', value: totalCalls, unit: 'calls', budget: null },
    ...[...byService]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([service, n]) => ({
        name: `fleet-run.aws-calls.${service.toLowerCase()}`,
        value: n,
        unit: 'calls',
        budget: null,
      })),
    { name: 'fleet-run.replaced', value: figures.replaced, unit: 'instances', budget: null },
    {
      name: 'fleet-run.not-replaced-once',
      value: count('replaced-once'),
      unit: 'findings',
      budget: 0,
    },
    { name: 'fleet-run.blocked', value: figures.blocked, unit: 'executions', budget: 0 },
    { name: 'fleet-run.failed', value: figures.failed, unit: 'executions', budget: 0 },
    { name: 'fleet-run.samples', value: figures.samples, unit: 'samples', budget: null },
    {
      name: 'fleet-run.min-healthy-percent',
      value: Math.round(lowest * 10) / 10,
      unit: '%',
      budget: null,
    },
    // Budgets are upper bounds: "never below 100 %" is a shortfall of at most 0.
    {
      name: 'fleet-run.healthy-shortfall',
      value: Math.round(Math.max(0, 100 - lowest) * 10) / 10,
      unit: '%',
      budget: 0,
    },
    ...fleets.map((f) => ({
      name: `fleet-run.max-in-flight.${f.name}`,
      value: figures.maxInFlight[f.name] ?? 0,
      unit: 'replacements',
      budget: f.budget,
    })),
    { name: 'fleet-run.order-breaches', value: count('order'), unit: 'findings', budget: 0 },
  ];

  const notes = [
    `estate: ${fleets.map((f) => `${f.name} (${f.kind}) ${f.size} across ${new Set(f.originals.map((o) => o.az)).size} zones, budget ${f.budget} in flight`).join('; ')}`,
    `reconcile: ${outcome.report.rounds.length} round(s), ${outcome.observation.executions.length} executions, ${Math.round(outcome.wallMs)} ms; ${figures.samples} samples, ${gapText}`,
    `AWS calls by Phoenix: ${totalCalls} (${[...byService].map(([s, n]) => `${s} ${n}`).join(', ')}), ${(totalCalls / Math.max(1, figures.replaced)).toFixed(1)} per replaced instance`,
    `lowest healthy capacity seen: ${fleets.map((f) => `${f.name} ${(figures.minHealthyPercent[f.name] ?? 0).toFixed(1)} %`).join(', ')}; most in flight: ${fleets.map((f) => `${f.name} ${figures.maxInFlight[f.name] ?? 0}/${f.budget}`).join(', ')}`,
    `lease grants: ${outcome.observation.grants.length}, ${outcome.waitedGrants} after a wait (asked more than once), ${outcome.observation.grants.filter((g) => g.queue !== undefined).length} with queue data`,
    ...INVARIANTS.flatMap((invariant) => {
      const found = findingsOf(findings, invariant);
      if (found.length === 0) return [`invariant ${invariant}: held`];
      return [
        `invariant ${invariant}: ${found.length} finding(s)`,
        ...found.slice(0, SHOWN_PER_INVARIANT).map((f) => `  ${describeFinding(f)}`),
        ...(found.length > SHOWN_PER_INVARIANT ? [`  … and ${found.length - SHOWN_PER_INVARIANT} more`] : []),
      ];
    }),
    `today's polling judged by the order rule (waits observed, not the queue's): ${observedOrder.length} finding(s)`,
    ...observedOrder.slice(0, SHOWN_PER_INVARIANT).map((f) => `  ${describeFinding(f)}`),
    `everything observed, with every finding: ${relative(process.cwd(), options.outfile)}`,
  ];
  return { results, notes };
}
