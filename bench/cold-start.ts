/**
 * Benchmark 1, cold start: each Lambda bundle as CDK deploys it (infra's `bundleLambda`,
 * the SDK trimmed), against a baseline bundle holding only the same AWS SDK clients
 * (constructed, as our init constructs them) and the same SDK commands, and nothing of
 * ours, bundled by esbuild unaided (the SDK untrimmed). A third bundle, ours with the SDK
 * untrimmed, shows what the trims are worth (reported, not judged).
 *
 * - Size: bytes of `index.mjs`. Budget: ours ≤ 0.6 × the baseline's.
 * - Init time: module import + handler initialisation, measured with `performance.now()`
 *   inside a fresh Node process. The bundles are timed in rounds, one fresh process each,
 *   ours right between the baseline and the untrimmed variant (which swap sides every
 *   round), so each of our samples has a baseline sample taken next to it, meeting the same
 *   moment on a shared machine. The figure judged is the median of the per-round ratios
 *   ours / baseline (`bench/lib/paired.ts`), over at least 15 rounds; while the 95% interval
 *   of that median still straddles the budget, rounds go on, up to 45. The row's `value` and
 *   `baseline` are the medians of each side's samples. Budget: ratio ≤ 0.75.
 *
 * The children get a Lambda-like environment: region and credentials in env vars, the
 * function's own variables and `NODE_OPTIONS=--enable-source-maps`, as infra sets it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompiledDesiredState } from '../functions/domain/model';
import {
  type BuiltBundle,
  bundleLambda,
  desiredStateDefine,
  type LambdaBundleRequest,
  PROJECT_ROOT,
} from '../infra/parts/lambda-bundle';
import {
  classicZodImporters,
  type PackageWeight,
  sdkClientPackages,
  sdkOperationExports,
  weightsByPackage,
} from './lib/bundle';
import { runNodeChild } from './lib/child';
import { type PairedVerdict, pairedRatios, pairedVerdict } from './lib/paired';
import type { Progress } from './lib/progress';
import { type BenchResult, compared } from './lib/results';
import { median, range } from './lib/stats';

export const SIZE_BUDGET = 0.6;
export const TIME_BUDGET = 0.75;

/** Rounds beyond the minimum are run only while some function's verdict is not settled. */
export const MAX_ROUNDS = 45;

/** The functions infra deploys, by entry, with the memory infra/drift-remediator.ts gives them. */
export const LAMBDA_ENTRIES = [
  {
    name: 'evaluate-drift',
    entry: 'functions/evaluate-drift/handler.ts',
    service: 'phoenix-evaluate-drift',
    memoryMb: 512,
  },
  {
    name: 'remediation',
    entry: 'functions/remediation/handler.ts',
    service: 'phoenix-remediation',
    memoryMb: 256,
  },
] as const;

/**
 * The V8 flags Lambda's Node.js bootstrap passes for a function's memory size: a tenth of
 * it for the young generation (half of that per semi-space), the rest for the old one.
 */
export function lambdaNodeArgs(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [
    '--expose-gc',
    '--max-http-header-size=81920',
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memoryMb - newSpace}`,
  ];
}

/** What a Lambda function's environment holds at init (dummy values, same shape). */
export function lambdaEnvironment(serviceName: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'ASIABENCHMARK000000',
    AWS_SECRET_ACCESS_KEY: 'benchmark-secret',
    AWS_SESSION_TOKEN: 'benchmark-session-token',
    AWS_LAMBDA_FUNCTION_NAME: serviceName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_FUNCTION_VERSION: '1',
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: serviceName,
    POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
    LOG_LEVEL: 'WARN',
    PHOENIX_TABLE_NAME: 'phoenix-state',
    PHOENIX_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:phoenix-notifications',
    PHOENIX_STATE_MACHINE_ARN:
      'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance',
  };
}

/** Imports the bundle named by BENCH_BUNDLE in a fresh process and prints how long it took. */
const PROBE = `
const cpu = process.cpuUsage();
const started = performance.now();
const mod = await import(process.env.BENCH_BUNDLE);
const initMs = performance.now() - started;
const used = process.cpuUsage(cpu);
if (typeof mod.handler !== 'function') throw new Error('the bundle exports no handler function');
process.stdout.write(JSON.stringify({ initMs, cpuMs: (used.user + used.system) / 1000 }) + '\\n');
`;

/** The class each SDK client package exports (the one ending in `Client`, not `__Client`). */
async function clientClassName(pkg: string): Promise<string> {
  const mod = (await import(pkg)) as Record<string, unknown>;
  const names = Object.keys(mod).filter((k) => /^[A-Za-z0-9]+Client$/.test(k) && k !== '__Client');
  const [name] = names;
  if (name === undefined || names.length !== 1) {
    throw new Error(`cannot tell the client class of ${pkg}: ${names.join(', ') || 'none'}`);
  }
  return name;
}

/** The package of each client `makeClients` (functions/aws/clients.ts) offers, by key. */
export const CLIENT_PACKAGES: Readonly<Record<string, string>> = {
  ec2: '@aws-sdk/client-ec2',
  autoScaling: '@aws-sdk/client-auto-scaling',
  elbv2: '@aws-sdk/client-elastic-load-balancing-v2',
  dynamodb: '@aws-sdk/client-dynamodb',
  sns: '@aws-sdk/client-sns',
  sqs: '@aws-sdk/client-sqs',
  sfn: '@aws-sdk/client-sfn',
  config: '@aws-sdk/client-config-service',
  cloudwatch: '@aws-sdk/client-cloudwatch',
};

/**
 * The client packages a handler's init constructs: the `clients.<key>` it reads from
 * `makeClients` (each is constructed on first access), read from the handler's source.
 */
export function constructedClientPackages(handlerSource: string): string[] {
  const keys = new Set([...handlerSource.matchAll(/\bclients\.(\w+)\b/g)].map((m) => m[1] ?? ''));
  const packages = [...keys].map((key) => {
    const pkg = CLIENT_PACKAGES[key];
    if (pkg === undefined)
      throw new Error(`the handler reads clients.${key}, which makeClients does not offer`);
    return pkg;
  });
  return [...new Set(packages)].sort();
}

/**
 * The baseline's source: the SDK clients the handler's init constructs, constructed once
 * at init, and the commands of those clients the bundle uses, referenced so they are
 * bundled too; a no-op handler. Clients our bundle holds but never constructs are not in
 * it: their weight is ours (a consequence of how we import them), not the SDK's price.
 */
export async function baselineSource(bundle: BuiltBundle, constructed: readonly string[]): Promise<string> {
  const bundled = sdkClientPackages(bundle.metafile);
  const missing = constructed.filter((pkg) => !bundled.includes(pkg));
  if (missing.length > 0) throw new Error(`the bundle does not hold ${missing.join(', ')}`);
  const clients = [...constructed];
  const operations = sdkOperationExports(bundle.metafile);
  const lines: string[] = [];
  const instances: string[] = [];
  const referenced: string[] = [];
  let alias = 0;
  for (const pkg of clients) {
    const className = await clientClassName(pkg);
    const ops = operations.filter((o) => o.pkg === pkg);
    const imports = [`${className} as C${alias}`, ...ops.map((o, i) => `${o.name} as O${alias}_${i}`)];
    lines.push(`import { ${imports.join(', ')} } from '${pkg}';`);
    instances.push(`new C${alias}({})`);
    referenced.push(...ops.map((_, i) => `O${alias}_${i}`));
    alias += 1;
  }
  lines.push(`const clients = [${instances.join(', ')}];`);
  lines.push(`const operations = [${referenced.join(', ')}];`);
  lines.push(
    'export const handler = async () => ({ clients: clients.length, operations: operations.length });',
  );
  return `${lines.join('\n')}\n`;
}

/** The bundles compared for one function. */
const VARIANTS = ['ours', 'baseline', 'untrimmed'] as const;
type Variant = (typeof VARIANTS)[number];

/**
 * The order of one round: ours in the middle, so both figures compared with it are taken
 * next to it; the other two swap sides every round, so neither always goes first (a warmer
 * disk cache, a quieter moment).
 */
export function roundOrder(round: number): Variant[] {
  return round % 2 === 0 ? ['baseline', 'ours', 'untrimmed'] : ['untrimmed', 'ours', 'baseline'];
}

interface Measured {
  name: string;
  memoryMb: number;
  service: string;
  /** ours: as CDK deploys it; baseline: the SDK alone, untrimmed; untrimmed: ours with the SDK untrimmed. */
  bundles: Record<Variant, BuiltBundle>;
  /** One sample per round, in round order: index i of each variant was taken in round i. */
  initMs: Record<Variant, number[]>;
  /** CPU time of the same imports: steadier than wall time on a busy machine, reported beside it. */
  cpuMs: Record<Variant, number[]>;
  weights: PackageWeight[];
}

export interface ColdStartOutcome {
  results: BenchResult[];
  /** Lines for the report: absolute sizes, spreads, the heaviest packages. */
  notes: string[];
}

/** Imports one bundle in a fresh Lambda-like process: its init wall time and CPU time. */
function timeInit(m: Measured, which: Variant): Promise<{ initMs: number; cpuMs: number }> {
  return runNodeChild<{ initMs: number; cpuMs: number }>({
    args: [...lambdaNodeArgs(m.memoryMb), '--input-type=module', '-e', PROBE],
    env: {
      ...lambdaEnvironment(m.service),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(m.memoryMb),
      BENCH_BUNDLE: pathToFileURL(m.bundles[which].file).href,
    },
    timeoutMs: 60_000,
  });
}

function initVerdict(m: Measured): PairedVerdict {
  return pairedVerdict(m.initMs.ours, m.initMs.baseline, TIME_BUDGET);
}

export async function coldStartBench(options: {
  outdir: string;
  desiredState: CompiledDesiredState;
  /** The fewest rounds (fresh processes per bundle); 15 or more. */
  runs: number;
  /** The most rounds, while a verdict is unsettled; at least `runs`. */
  maxRuns?: number;
  progress: Progress;
}): Promise<ColdStartOutcome> {
  const { progress } = options;
  const maxRuns = Math.max(options.runs, options.maxRuns ?? MAX_ROUNDS);
  const measured: Measured[] = [];
  const define = desiredStateDefine(options.desiredState);
  for (const fn of LAMBDA_ENTRIES) {
    progress.say(`cold start: bundling ${fn.entry} as CDK does`);
    const bundle = await bundleWithMetafile({
      entry: fn.entry,
      outdir: join(options.outdir, fn.name),
      define,
    });
    const baselineDir = join(options.outdir, `${fn.name}-baseline`);
    const baselineEntry = join(baselineDir, 'entry.mjs');
    await mkdir(baselineDir, { recursive: true });
    const constructed = constructedClientPackages(await readFile(join(PROJECT_ROOT, fn.entry), 'utf8'));
    // The clients and operations are read from the untrimmed bundle: the trims never drop a used one, and
    // the baseline's command list should not depend on them.
    const untrimmed = await bundleWithMetafile({
      entry: fn.entry,
      outdir: join(options.outdir, `${fn.name}-untrimmed`),
      define,
      trimSdk: false,
    });
    await writeFile(baselineEntry, await baselineSource(untrimmed, constructed));
    const baseline = await bundleWithMetafile({
      entry: baselineEntry,
      outdir: join(baselineDir, 'out'),
      trimSdk: false,
    });
    measured.push({
      name: fn.name,
      memoryMb: fn.memoryMb,
      service: fn.service,
      bundles: { ours: bundle, baseline, untrimmed },
      initMs: { ours: [], baseline: [], untrimmed: [] },
      cpuMs: { ours: [], baseline: [], untrimmed: [] },
      weights: weightsByPackage(bundle.metafile),
    });
  }

  // One unmeasured import of each bundle first: the first read of a fresh file pays for the
  // disk, which would otherwise fall on whichever variant the first round starts with.
  progress.say('cold start: one warm-up import of each bundle');
  for (const m of measured) for (const which of VARIANTS) await timeInit(m, which);

  progress.say(
    `cold start: rounds of one fresh process per bundle, ${options.runs} to ${maxRuns} (until the verdicts settle)`,
  );
  let done = 0;
  for (let round = 0; round < maxRuns; round += 1) {
    for (const m of measured) {
      for (const which of roundOrder(round)) {
        const { initMs, cpuMs } = await timeInit(m, which);
        m.initMs[which].push(initMs);
        m.cpuMs[which].push(cpuMs);
        done += 1;
        progress.count('processes', done, maxRuns * measured.length * VARIANTS.length);
      }
    }
    if (round + 1 >= options.runs && measured.every((m) => initVerdict(m).settled)) break;
  }

  const results: BenchResult[] = [];
  const notes: string[] = [];
  for (const m of measured) {
    const { ours, baseline, untrimmed } = m.bundles;
    const verdict = initVerdict(m);
    results.push(
      compared({
        name: `cold-start.${m.name}.bundle-size`,
        value: ours.bytes,
        unit: 'bytes',
        budget: SIZE_BUDGET,
        baseline: baseline.bytes,
      }),
      // Init-time ratios are medians of per-round ratios, not value / baseline: see the top of this file.
      {
        name: `cold-start.${m.name}.init-time`,
        value: round(median(m.initMs.ours)),
        unit: 'ms',
        budget: TIME_BUDGET,
        baseline: round(median(m.initMs.baseline)),
        ratio: verdict.ratio,
      },
      // The same bundle with the SDK untrimmed, against the same baseline: what the trims are worth.
      compared({
        name: `cold-start.${m.name}.untrimmed-sdk.bundle-size`,
        value: untrimmed.bytes,
        unit: 'bytes',
        budget: null,
        baseline: baseline.bytes,
      }),
      {
        name: `cold-start.${m.name}.untrimmed-sdk.init-time`,
        value: round(median(m.initMs.untrimmed)),
        unit: 'ms',
        budget: null,
        baseline: round(median(m.initMs.baseline)),
        ratio: median(pairedRatios(m.initMs.untrimmed, m.initMs.baseline)),
      },
    );
    const spread = (variant: Variant) => {
      const { min, max } = range(m.initMs[variant]);
      return `${min.toFixed(0)}-${max.toFixed(0)} ms`;
    };
    const sdkBytes = m.weights.filter((w) => w.sdk).reduce((sum, w) => sum + w.bytes, 0);
    const otherBytes = m.weights.filter((w) => !w.sdk).reduce((sum, w) => sum + w.bytes, 0);
    notes.push(
      `${m.name}: ${kib(ours.bytes)} (baseline ${kib(baseline.bytes)}, SDK untrimmed ${kib(untrimmed.bytes)}); ` +
        `SDK ${kib(sdkBytes)}, ours + other deps ${kib(otherBytes)}; init ${spread('ours')} ` +
        `(baseline ${spread('baseline')}, untrimmed ${spread('untrimmed')}) over ${m.initMs.ours.length} rounds; ` +
        `paired init ratio ${verdict.ratio.toFixed(2)} (${percent(verdict.interval.confidence)} interval ` +
        `${verdict.interval.low.toFixed(2)}-${verdict.interval.high.toFixed(2)}${verdict.settled ? '' : ', NOT clear of the budget'}); ` +
        `paired CPU-time ratio ${pairedVerdict(m.cpuMs.ours, m.cpuMs.baseline, TIME_BUDGET).ratio.toFixed(2)} ` +
        `(median CPU time of the import ${median(m.cpuMs.ours).toFixed(0)} ms, baseline ${median(m.cpuMs.baseline).toFixed(0)} ms, ` +
        `untrimmed ${median(m.cpuMs.untrimmed).toFixed(0)} ms)`,
      `  heaviest: ${m.weights
        .slice(0, 8)
        .map((w) => `${w.name} ${kib(w.bytes)}`)
        .join(', ')}`,
    );
    const classic = classicZodImporters(ours.metafile);
    if (classic.length > 0) notes.push(`  classic zod (not zod/mini) imported by: ${classic.join(', ')}`);
  }
  return { results, notes };
}

/** {@link bundleLambda}, with the metafile kept beside the bundle for a reader of the figures. */
async function bundleWithMetafile(request: LambdaBundleRequest): Promise<BuiltBundle> {
  const built = await bundleLambda(request);
  await writeFile(join(request.outdir, 'index.meta.json'), JSON.stringify(built.metafile));
  return built;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
