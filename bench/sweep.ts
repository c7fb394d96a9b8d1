/**
 * Benchmark 2, sweep cost: the evaluator's scheduled sweep over 1,000 and then 10,000
 * instances seeded in the emulator (a tag-selected standalone fleet and an Auto Scaling
 * fleet), each run in a fresh process (sweep-child.ts) beside the baseline, a plain
 * paginated DescribeInstances listing of the same instances.
 *
 * Budgets: DescribeInstances pages ≤ ceil(n / 1000) per fleet selector; PutEvaluations ≤
 * ceil(N / 100); no call per instance (everything else is a fixed number per fleet); wall
 * time ≤ 1.5 × the listing's; peak RSS ≤ 256 MB at 10,000.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AutoScalingClient,
  CreateAutoScalingGroupCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  type EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { build } from 'esbuild';
import { defaultImageIds, seedLaunchTemplate } from '../emulator/seed';
import { makeClients } from '../functions/aws/clients';
import type { CompiledDesiredState } from '../functions/domain/model';
import { lambdaBuildOptions } from '../infra/parts/lambda-bundle';
import { lambdaNodeArgs } from './cold-start';
import { runNodeChild } from './lib/child';
import { benchDesiredState } from './lib/desired-state';
import type { Progress } from './lib/progress';
import { type BenchResult, compared } from './lib/results';
import { median } from './lib/stats';
import type { SweepChildResult } from './sweep-child';

export const WALL_TIME_BUDGET = 1.5;
export const PEAK_RSS_BUDGET_MB = 256;
/** API calls a sweep may make besides listing and recording, per fleet: its template, its group. */
export const FIXED_CALLS_PER_FLEET = 2;

export const ASG_NAME = 'bench-web';
export const TAG_FLEET_SELECTOR = { App: 'batch' } as const;
/** Share of the estate in the tag-selected fleet; the rest is in the Auto Scaling group. */
const TAG_FLEET_SHARE = 0.3;
/** Share of the tag fleet with a tag changed by hand (observe mode: recorded, not acted on). */
const DRIFTED_SHARE = 0.01;
const LAUNCH_BATCH = 1000;

/** The desired state the sweep judges against. */
export const SWEEP_DESIRED_STATE_YAML = `
version: 1
defaults:
  mode: enforce
  checks: { image: true, instanceType: true, securityGroups: true }
fleets:
  web:
    match: { autoScalingGroup: ${ASG_NAME} }
    launchTemplate: { name: bench-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
  batch:
    mode: observe
    match: { tags: { App: batch } }
    launchTemplate: { name: bench-lt, version: $Default }
    tags: { Owner: team-batch }
    team: batch
`;

type Ec2 = Pick<EC2Client, 'send'>;
type AutoScaling = Pick<AutoScalingClient, 'send'>;

/** The estate being grown: how many instances each fleet has so far. */
interface Estate {
  ec2: Ec2;
  autoScaling: AutoScaling;
  subnetId: string;
  templateId: string;
  tagFleet: number;
  asgFleet: number;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`sweep seed: the emulator returned no ${what}`);
  return value;
}

/**
 * A VPC with subnets large enough for 10,000 instances (the test helpers' /24 subnets hold
 * 251), a launch template and an empty Auto Scaling group over it.
 */
async function seedBase(ec2: Ec2, autoScaling: AutoScaling): Promise<Estate> {
  const [imageId = ''] = await defaultImageIds(ec2, 1);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = required(vpc.Vpc?.VpcId, 'VPC id');
  const subnet = async (cidr: string, az: string) =>
    required(
      (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az })))
        .Subnet?.SubnetId,
      'subnet id',
    );
  const standaloneSubnet = await subnet('10.0.0.0/17', 'us-east-1a');
  const groupSubnet = await subnet('10.0.128.0/17', 'us-east-1b');
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'bench', Description: 'bench' }),
  );
  const template = await seedLaunchTemplate(ec2, {
    name: 'bench-lt',
    versions: [
      {
        imageId,
        instanceType: 't3.micro',
        securityGroupIds: [required(group.GroupId, 'security group id')],
        instanceTags: { Name: 'bench' },
      },
    ],
  });
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: ASG_NAME,
      LaunchTemplate: { LaunchTemplateId: template.id, Version: '$Default' },
      MinSize: 0,
      MaxSize: 20_000,
      DesiredCapacity: 0,
      VPCZoneIdentifier: groupSubnet,
      Tags: [
        {
          Key: 'Owner',
          Value: 'team-web',
          PropagateAtLaunch: true,
          ResourceId: ASG_NAME,
          ResourceType: 'auto-scaling-group',
        },
      ],
    }),
  );
  return { ec2, autoScaling, subnetId: standaloneSubnet, templateId: template.id, tagFleet: 0, asgFleet: 0 };
}

/** Grows the estate to `total` instances: RunInstances in batches of 1,000, one group resize. */
async function growTo(estate: Estate, total: number, progress: Progress): Promise<void> {
  const tagTarget = Math.round(total * TAG_FLEET_SHARE);
  const asgTarget = total - tagTarget;
  const drifted: string[] = [];
  while (estate.tagFleet < tagTarget) {
    const count = Math.min(LAUNCH_BATCH, tagTarget - estate.tagFleet);
    const launched = await estate.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: estate.templateId, Version: '$Default' },
        MinCount: count,
        MaxCount: count,
        SubnetId: estate.subnetId,
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'App', Value: TAG_FLEET_SELECTOR.App },
              { Key: 'Owner', Value: 'team-batch' },
            ],
          },
        ],
      }),
    );
    const ids = (launched.Instances ?? []).flatMap((i) => (i.InstanceId === undefined ? [] : [i.InstanceId]));
    if (ids.length !== count) throw new Error(`sweep seed: asked for ${count} instances, got ${ids.length}`);
    drifted.push(...ids.slice(0, Math.ceil(count * DRIFTED_SHARE)));
    estate.tagFleet += count;
    progress.count('tag fleet instances', estate.tagFleet, tagTarget);
  }
  if (drifted.length > 0) {
    // Changed by hand after launch, as drift happens.
    await estate.ec2.send(
      new CreateTagsCommand({ Resources: drifted, Tags: [{ Key: 'Owner', Value: 'someone-else' }] }),
    );
  }
  if (estate.asgFleet < asgTarget) {
    await estate.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: ASG_NAME, DesiredCapacity: asgTarget }),
    );
    estate.asgFleet = asgTarget;
    progress.count('Auto Scaling fleet instances', estate.asgFleet, asgTarget);
  }
}

/**
 * Bundles the child as the evaluator's bundle holds the same code: infra's Lambda options,
 * the SDK trimmed as deployed (or, for the comparison, untrimmed). Not minified: the child
 * counts calls by their command's class name, which minifying renames.
 */
async function bundleChild(outdir: string, trimSdk: boolean, name: string): Promise<string> {
  const options = lambdaBuildOptions({ entry: 'bench/sweep-child.ts', outdir, trimSdk });
  const outfile = join(outdir, name);
  await build({ ...options, outfile, metafile: false, minify: false, sourcemap: false });
  return outfile;
}

/** The evaluator's memory in infra/drift-remediator.ts: the sweep runs with its Lambda V8 limits. */
export const EVALUATOR_MEMORY_MB = 512;

function runChild(
  script: string,
  mode: 'sweep' | 'listing',
  endpoint: string,
  statePath: string,
): Promise<SweepChildResult> {
  return runNodeChild<SweepChildResult>({
    args: [...lambdaNodeArgs(EVALUATOR_MEMORY_MB), script],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      BENCH_MODE: mode,
      BENCH_ENDPOINT: endpoint,
      BENCH_DESIRED_STATE: statePath,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_SERVICE_NAME: 'phoenix-evaluate-drift',
      POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
      LOG_LEVEL: 'INFO',
    },
    timeoutMs: 600_000,
  });
}

/** Pages requested per selector: the counted DescribeInstances requests, grouped. */
export function pagesBySelector(result: Pick<SweepChildResult, 'pages'>): Map<string, number> {
  const pages = new Map<string, number>();
  for (const page of result.pages) pages.set(page.selector, (pages.get(page.selector) ?? 0) + 1);
  return pages;
}

export interface SweepOutcome {
  results: BenchResult[];
  notes: string[];
}

/** Runs the benchmark at each size in turn, growing the same estate. */
export async function sweepBench(options: {
  endpoint: string;
  outdir: string;
  sizes: readonly number[];
  /** Listing/sweep pairs at sizes up to `repeatUpTo`; one pair above it. */
  repetitions: number;
  repeatUpTo: number;
  progress: Progress;
}): Promise<SweepOutcome> {
  const { progress } = options;
  const clients = makeClients({
    region: 'us-east-1',
    endpoint: options.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 2,
  });
  progress.say('sweep: bundling the measurement process');
  const script = await bundleChild(options.outdir, true, 'sweep-child.mjs');
  // The same sweep with the SDK untrimmed (infra/parts/lambda-bundle.ts): proof that the
  // trims deserialise EC2's answers identically, and what they cost or save at run time.
  const untrimmedScript = await bundleChild(options.outdir, false, 'sweep-child-untrimmed.mjs');
  const state: CompiledDesiredState = benchDesiredState(SWEEP_DESIRED_STATE_YAML);
  const statePath = join(options.outdir, 'sweep-desired-state.json');
  await writeFile(statePath, JSON.stringify(state));
  const estate = await seedBase(clients.ec2, clients.autoScaling);

  const results: BenchResult[] = [];
  const notes: string[] = [];
  for (const size of options.sizes) {
    progress.say(`sweep: seeding ${size.toLocaleString('en-US')} instances`);
    await growTo(estate, size, progress);
    const reps = size <= options.repeatUpTo ? options.repetitions : 1;
    const listings: SweepChildResult[] = [];
    const sweeps: SweepChildResult[] = [];
    for (let rep = 0; rep < reps; rep += 1) {
      progress.say(
        `sweep: ${size.toLocaleString('en-US')} instances, listing then sweep (${rep + 1}/${reps})`,
      );
      listings.push(await runChild(script, 'listing', options.endpoint, statePath));
      sweeps.push(await runChild(script, 'sweep', options.endpoint, statePath));
    }
    const sweep = sweeps[0];
    const listing = listings[0];
    if (sweep === undefined || listing === undefined) throw new Error('sweep: no measurement ran');
    if (size === Math.min(...options.sizes)) {
      progress.say(`sweep: ${size.toLocaleString('en-US')} instances with the SDK untrimmed`);
      const untrimmed = await runChild(untrimmedScript, 'sweep', options.endpoint, statePath);
      if (untrimmed.instances !== sweep.instances || untrimmed.evaluations !== sweep.evaluations) {
        throw new Error(
          `sweep: with the SDK untrimmed the sweep judged ${untrimmed.instances} and recorded ${untrimmed.evaluations}, ` +
            `not ${sweep.instances} and ${sweep.evaluations}`,
        );
      }
      results.push(
        compared({
          name: `sweep.${size}.untrimmed-sdk.wall-time`,
          value: Math.round(untrimmed.wallMs),
          unit: 'ms',
          budget: null,
          baseline: Math.round(median(sweeps.map((s) => s.wallMs))),
        }),
      );
      notes.push(
        `${size.toLocaleString('en-US')} instances with the SDK untrimmed: same ${untrimmed.instances} verdicts and ${untrimmed.evaluations} evaluations; peak RSS ${mb(untrimmed.maxRssBytes)} MB`,
      );
    }
    for (const measured of [...sweeps, ...listings]) {
      if (measured.instances !== size) {
        throw new Error(
          `sweep: the ${measured.mode} saw ${measured.instances} instances, ${size} were seeded`,
        );
      }
    }
    if (sweep.evaluations !== size) {
      throw new Error(`sweep: ${sweep.evaluations} evaluations recorded for ${size} instances`);
    }
    const fleetSizes = new Map<string, number>([
      [`tag:aws:autoscaling:groupName=${ASG_NAME}`, estate.asgFleet],
      [`tag:App=${TAG_FLEET_SELECTOR.App}`, estate.tagFleet],
    ]);
    const pages = pagesBySelector(sweep);
    for (const [selector, fleetSize] of fleetSizes) {
      const fleet = selector.includes(ASG_NAME) ? 'asg-fleet' : 'tag-fleet';
      results.push({
        name: `sweep.${size}.describe-instances-pages.${fleet}`,
        value: pages.get(selector) ?? 0,
        unit: 'calls',
        budget: Math.ceil(fleetSize / 1000),
      });
    }
    const unexpectedSelectors = [...pages.keys()].filter((s) => !fleetSizes.has(s));
    const putEvaluations = sweep.calls['ConfigService.PutEvaluations'] ?? 0;
    const describeInstances = sweep.calls['EC2.DescribeInstances'] ?? 0;
    const other = Object.entries(sweep.calls)
      .filter(([op]) => op !== 'ConfigService.PutEvaluations' && op !== 'EC2.DescribeInstances')
      .reduce((sum, [, n]) => sum + n, 0);
    results.push(
      {
        name: `sweep.${size}.put-evaluations`,
        value: putEvaluations,
        unit: 'calls',
        budget: Math.ceil(size / 100),
      },
      {
        name: `sweep.${size}.other-calls`,
        // A DescribeInstances outside the fleet selectors would be a per-instance lookup.
        value: other + unexpectedSelectors.reduce((sum, s) => sum + (pages.get(s) ?? 0), 0),
        unit: 'calls',
        budget: FIXED_CALLS_PER_FLEET * fleetSizes.size,
      },
      compared({
        name: `sweep.${size}.wall-time`,
        value: Math.round(median(sweeps.map((s) => s.wallMs))),
        unit: 'ms',
        budget: WALL_TIME_BUDGET,
        baseline: Math.round(median(listings.map((l) => l.wallMs))),
      }),
    );
    notes.push(
      `${size.toLocaleString('en-US')} instances (${estate.tagFleet} tag fleet, ${estate.asgFleet} Auto Scaling): ` +
        `calls ${Object.entries(sweep.calls)
          .map(([op, n]) => `${op} ${n}`)
          .join(
            ', ',
          )}; DescribeInstances ${describeInstances} (MaxResults ${[...new Set(sweep.pages.map((p) => p.maxResults))].join('/')}); ` +
        `peak RSS sweep ${mb(sweep.maxRssBytes)} MB, listing ${mb(listing.maxRssBytes)} MB`,
    );
    if (size === Math.max(...options.sizes)) {
      results.push({
        name: `sweep.${size}.peak-rss`,
        value: mb(Math.max(...sweeps.map((s) => s.maxRssBytes))),
        unit: 'MB',
        budget: PEAK_RSS_BUDGET_MB,
      });
    }
  }
  return { results, notes };
}

function mb(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}
