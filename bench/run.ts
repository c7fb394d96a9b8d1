/**
 * `npm run bench`: every benchmark, its figures against their budgets, as a table on stdout
 * and as `bench/results.json`; exit 1 when a budget is broken, 2 when a benchmark could not
 * run. Progress goes to stderr. The emulated account is started here and stopped before
 * exiting, whatever happens.
 *
 *   npm run bench                       all benchmarks
 *   npm run bench -- --only sweep,engine  a subset (cold-start, sweep, engine, remediation, convergence, cost, fleet-run)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { type RunningEmulator, startEmulator } from '../emulator/moto-process';
import { loadDesiredStateFile } from '../functions/io/desired-state-file';
import { PROJECT_ROOT } from '../infra/parts/functions';
import { DEFAULT_DESIRED_STATE_PATH } from '../infra/settings';
import { coldStartBench } from './cold-start';
import { convergenceBench } from './convergence';
import { type CostInputs, costBench } from './cost';
import { engineBench } from './engine';
import { fleetRunBench } from './fleet-run';
import { consoleProgress } from './lib/progress';
import { type BenchResult, brokenBudgets, formatTable } from './lib/results';
import { remediationBench } from './remediation';
import { sweepBench } from './sweep';

const BENCHMARKS = [
  'cold-start',
  'sweep',
  'engine',
  'remediation',
  'convergence',
  'cost',
  'fleet-run',
] as const;
/** Without the sweep benchmark in the run, the evaluator's milliseconds per swept instance as stated. */
const STATED_SWEEP_MS_PER_INSTANCE = 5;
type Benchmark = (typeof BENCHMARKS)[number];

const OUT_DIR = join(PROJECT_ROOT, 'bench', 'out');
const RESULTS_FILE = join(PROJECT_ROOT, 'bench', 'results.json');

function selected(only: string | undefined): Set<Benchmark> {
  if (only === undefined) return new Set(BENCHMARKS);
  const names = only.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
  }
  return new Set(names as Benchmark[]);
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const which = selected(values.only);
  const progress = consoleProgress();
  await mkdir(OUT_DIR, { recursive: true });
  const results: BenchResult[] = [];
  const notes: string[] = [];

  const needsRemediation = which.has('remediation') || which.has('convergence') || which.has('cost');
  const needsEmulator = which.has('sweep') || which.has('fleet-run') || needsRemediation;
  let costInputs: Omit<CostInputs, 'evaluatorMsPerSweptInstance'> | undefined;
  let sweepMsPerInstance = STATED_SWEEP_MS_PER_INSTANCE;
  let emulator: RunningEmulator | undefined;
  try {
    if (which.has('cold-start')) {
      const desiredState = await loadDesiredStateFile(join(PROJECT_ROOT, DEFAULT_DESIRED_STATE_PATH));
      const outcome = await coldStartBench({
        outdir: join(OUT_DIR, 'cold-start'),
        desiredState,
        runs: 15,
        progress,
      });
      results.push(...outcome.results);
      notes.push('Cold start:', ...outcome.notes.map((n) => `  ${n}`));
    }
    if (which.has('engine')) {
      const outcome = await engineBench({ instances: 100_000, progress });
      results.push(...outcome.results);
      notes.push('Engine:', ...outcome.notes.map((n) => `  ${n}`));
    }
    if (needsEmulator) {
      progress.say('starting the emulated account (moto)');
      emulator = await startEmulator({
        scale: true,
        env: { MOTO_AMIS_PATH: join(PROJECT_ROOT, 'bench', 'moto-amis.json') },
      });
    }
    if (needsRemediation) {
      if (emulator === undefined) throw new Error('no emulator');
      const outcome = await remediationBench({ endpoint: emulator.endpoint, remediations: 5, progress });
      if (which.has('remediation')) {
        results.push(...outcome.results);
        notes.push('Remediation:', ...outcome.notes.map((n) => `  ${n}`));
      }
      // On AWS a replacement also goes round the health check while it boots: the model's count.
      const convergence = convergenceBench({ recorded: outcome.recorded, progress });
      if (which.has('convergence')) {
        results.push(...convergence.results);
        notes.push('Convergence model:', ...convergence.notes.map((n) => `  ${n}`));
      }
      const extraRounds =
        convergence.profile.transitions -
        outcome.recorded.events.filter((e) => e.type === 'StateEntered').length;
      costInputs = {
        asg: { ...outcome.usage.asg, transitions: outcome.usage.asg.transitions + Math.max(0, extraRounds) },
        standalone: {
          ...outcome.usage.standalone,
          transitions: outcome.usage.standalone.transitions + Math.max(0, extraRounds),
        },
        rolls: convergence.rolls,
        desiredState: await loadDesiredStateFile(join(PROJECT_ROOT, DEFAULT_DESIRED_STATE_PATH)),
      };
    }
    // Before the sweep's 10,000 instances make every look at the account slower.
    if (which.has('fleet-run')) {
      if (emulator === undefined) throw new Error('no emulator');
      const outcome = await fleetRunBench({
        endpoint: emulator.endpoint,
        outfile: join(OUT_DIR, 'fleet-run.json'),
        progress,
      });
      results.push(...outcome.results);
      notes.push('Fleet run:', ...outcome.notes.map((n) => `  ${n}`));
    }
    if (which.has('sweep')) {
      if (emulator === undefined) throw new Error('no emulator');
      const outcome = await sweepBench({
        endpoint: emulator.endpoint,
        outdir: join(OUT_DIR, 'sweep'),
        sizes: [1_000, 10_000],
        repetitions: 2,
        repeatUpTo: 1_000,
        progress,
      });
      results.push(...outcome.results);
      notes.push('Sweep:', ...outcome.notes.map((n) => `  ${n}`));
      const wall = outcome.results.find((r) => r.name === 'sweep.10000.wall-time');
      if (wall !== undefined) sweepMsPerInstance = wall.value / 10_000;
    }
    if (which.has('cost')) {
      if (costInputs === undefined) throw new Error('the cost model needs the remediation benchmark');
      const outcome = costBench({
        inputs: { ...costInputs, evaluatorMsPerSweptInstance: sweepMsPerInstance },
        progress,
      });
      results.push(...outcome.results);
      notes.push('Cost model:', ...outcome.notes.map((n) => `  ${n}`));
    }
  } finally {
    if (emulator !== undefined) {
      progress.say('stopping the emulated account');
      await emulator.stop();
    }
  }

  // A partial run must not replace the full figures.
  const resultsFile = values.only === undefined ? RESULTS_FILE : join(OUT_DIR, 'results-partial.json');
  await writeFile(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(results)}\n\n${notes.join('\n')}\n\n`);
  const broken = brokenBudgets(results);
  if (broken.length > 0) {
    process.stdout.write(`${broken.length} budget(s) broken: ${broken.map((r) => r.name).join(', ')}\n`);
    return 1;
  }
  process.stdout.write(
    `All ${results.filter((r) => r.budget !== null).length} budgets met. Results in ${relative(process.cwd(), resultsFile)}\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
