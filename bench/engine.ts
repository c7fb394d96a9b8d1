/**
 * Benchmark 3, engine throughput: drift verdicts per second over 100,000 synthetic
 * instances (fleet match + verdict, as the evaluator runs them per instance), and the cost
 * per instance as a ratio to `JSON.parse` of that instance's AWS Config item, the least any
 * evaluation of a Config event must spend. Budget: ≤ 2×.
 *
 * Both sides run over the same instances, in alternating rounds after a warm-up round, and
 * the median round counts. Config items are ~6 KB each, so the parse side cycles through
 * the items of the first 10,000 instances (the mix repeats every 400) instead of holding
 * 600 MB of text.
 */
import { factsFromConfigItem } from '../functions/aws/instance-facts';
import { evaluateDrift } from '../functions/domain/drift/engine';
import { findFleet } from '../functions/domain/drift/match';
import type { InstanceFacts, Verdict } from '../functions/domain/model';
import type { Progress } from './lib/progress';
import { type BenchResult, compared } from './lib/results';
import { median } from './lib/stats';
import {
  configItemOf,
  SYNTHETIC_NOW,
  syntheticDesiredState,
  syntheticInstance,
  syntheticTemplates,
} from './lib/synthetic';

export const COST_RATIO_BUDGET = 2;
const DISTINCT_ITEMS = 10_000;
const ROUNDS = 3;

export interface EngineOutcome {
  results: BenchResult[];
  notes: string[];
}

export async function engineBench(options: {
  instances: number;
  progress: Progress;
}): Promise<EngineOutcome> {
  const { progress } = options;
  progress.say(`engine: building ${options.instances.toLocaleString('en-US')} synthetic instances`);
  const { fleets } = syntheticDesiredState();
  const templates = syntheticTemplates();
  const instances: InstanceFacts[] = Array.from({ length: options.instances }, (_, i) =>
    syntheticInstance(i),
  );
  const items = Array.from({ length: Math.min(DISTINCT_ITEMS, options.instances) }, (_, i) =>
    configItemOf(instances[i] as InstanceFacts),
  );

  const verdicts = (): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const instance of instances) {
      const match = findFleet(instance, fleets);
      let status: Verdict['status'] | 'outside' | 'excluded' =
        match.kind === 'member' ? 'in-sync' : match.kind;
      if (match.kind === 'member') {
        status = evaluateDrift({
          instance,
          fleet: match.fleet,
          template: templates.get(match.fleet.name),
          now: SYNTHETIC_NOW,
        }).status;
      }
      counts[status] = (counts[status] ?? 0) + 1;
    }
    return counts;
  };
  let parsedKeys = 0;
  const parseAll = () => {
    for (let i = 0; i < instances.length; i += 1) {
      const item = JSON.parse(items[i % items.length] as string) as Record<string, unknown>;
      parsedKeys += Object.keys(item).length;
    }
  };
  const timed = (work: () => void): number => {
    const started = performance.now();
    work();
    return performance.now() - started;
  };

  // Everything the evaluator does per Config item, once, to show where it goes (not budgeted).
  let factsChecked = 0;
  const factsFromItems = () => {
    for (let i = 0; i < items.length; i += 1) {
      const facts = factsFromConfigItem(JSON.parse(items[i] as string));
      if (facts.instanceId !== (instances[i] as InstanceFacts).instanceId) {
        throw new Error(`engine: the Config item of instance ${i} reads back as ${facts.instanceId}`);
      }
      factsChecked += 1;
    }
  };

  progress.say('engine: warm-up round');
  const mix = verdicts();
  parseAll();
  const engineMs: number[] = [];
  const parseMs: number[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    engineMs.push(timed(verdicts));
    parseMs.push(timed(parseAll));
    progress.count('rounds', round, ROUNDS);
  }
  const factsMs = timed(factsFromItems);
  if (parsedKeys === 0) throw new Error('engine: parsed nothing');

  const n = instances.length;
  const engineNs = (median(engineMs) * 1e6) / n;
  const parseNs = (median(parseMs) * 1e6) / n;
  return {
    results: [
      {
        name: 'engine.verdicts-per-second',
        value: Math.round(n / (median(engineMs) / 1000)),
        unit: 'verdicts/s',
        budget: null,
      },
      compared({
        name: 'engine.cost-per-instance',
        value: Math.round(engineNs),
        unit: 'ns',
        budget: COST_RATIO_BUDGET,
        baseline: Math.round(parseNs),
      }),
    ],
    notes: [
      `${n.toLocaleString('en-US')} instances: ${Object.entries(mix)
        .map(([status, count]) => `${count.toLocaleString('en-US')} ${status}`)
        .join(', ')}`,
      `per instance: match + verdict ${(engineNs / 1000).toFixed(2)} µs, JSON.parse of its Config item (${Math.round(
        (items[0]?.length ?? 0) / 1024,
      )} KB) ${(parseNs / 1000).toFixed(2)} µs; ` +
        `factsFromConfigItem (parse + validate + convert, not budgeted) ${((factsMs * 1000) / factsChecked).toFixed(2)} µs`,
    ],
  };
}
