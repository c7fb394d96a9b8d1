/**
 * `npm run demo`: Phoenix end to end on an emulated AWS account, in under a minute.
 *
 * 1. start the emulated account (moto) on a free port;
 * 2. seed an estate two teams would run (estate.ts);
 * 3. show it is in sync (`phoenix plan`, exit 0);
 * 4. make drift happen as in life, and hand the evaluator the events AWS would deliver
 *    (drift.ts; the evaluator core, exactly as the Lambda runs it);
 * 5. remediate: the executions the evaluator started, then the sweep rounds of
 *    `phoenix reconcile`, through the real state machine definition (local runner);
 * 6. report what happened, what was left alone and why, and what each team received
 *    (one SQS queue per team, subscribed to the topic with a filter policy on `team`);
 * 7. run `phoenix reconcile` once more: nothing to do.
 *
 * Every path stops the emulator: the caller's `finally`, and its signal handlers.
 */

import { fileURLToPath } from 'node:url';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { type RunningEmulator, startEmulator } from '../../emulator/moto-process';
import { createTeamInboxes, drainInboxes, type ReceivedNotification } from '../../emulator/team-inboxes';
import { makeClients, type PhoenixClients } from '../aws/clients';
import { factsFromEc2Instance } from '../aws/instance-facts';
import type { CliIo } from '../cli/io';
import { main } from '../cli/main';
import type { CompiledDesiredState, DriftReason, InstanceFacts } from '../domain/model';
import type { DetectionSummary } from '../evaluate-drift/core';
import { Judge } from '../evaluate-drift/judge';
import { loadDesiredStateFile } from '../io/desired-state-file';
import { ProgressPrinter } from '../local/progress';
import { Reconciler } from '../local/reconciler';
import { renderReport } from '../local/render-report';
import type { ReconcileReport } from '../local/report';
import { DEFAULT_TABLE_NAME, ensureStateTable } from '../local/state-table';
import { CHECKOUT_IMAGE_NAMES, type CheckoutEstate, seedCheckout } from './checkout';
import { type Change, editTagByHand, resizeByHand, rollOutNewImage } from './drift';
import { DemoFailedError } from './errors';
import {
  DEMO_DESIRED_STATE_FILE,
  DEMO_IMAGES,
  DEMO_IMAGES_FILE,
  type DemoEstate,
  seedDemoEstate,
} from './estate';
import { DemoClock, type RolloutActContext, releaseBrokenBuild, releaseFixedBuild } from './rollout-act';

export const DEMO_REGION = 'us-east-1';
/** moto takes any credentials; these keep the SDK away from the user's real ones. */
export const DEMO_CREDENTIALS = { accessKeyId: 'demo', secretAccessKey: 'demo' } as const;
const TOPIC_NAME = 'phoenix-notifications';
const TEAMS = ['storefront', 'payments'] as const;

export interface DemoOptions {
  io: CliIo;
  /** Leave the emulator running after the demo until `stopRequested` resolves. */
  keep: boolean;
  /** Resolves when the user asks to stop (Ctrl-C): ends `--keep`. */
  stopRequested: Promise<unknown>;
  /** Told of the emulator as soon as it runs, so signal handlers can stop it. */
  onEmulator?: (emulator: RunningEmulator) => void;
  /** Told when the demo itself is over (with `keep`, before waiting for `stopRequested`). */
  onDemoDone?: () => void;
}

/** The repository's root, to show paths the way a user types them. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DESIRED_STATE_PATH = fileURLToPath(DEMO_DESIRED_STATE_FILE);
const DESIRED_STATE_SHOWN = DESIRED_STATE_PATH.startsWith(ROOT)
  ? DESIRED_STATE_PATH.slice(ROOT.length)
  : DESIRED_STATE_PATH;

const IMAGE_NAMES: Readonly<Record<string, string>> = {
  [DEMO_IMAGES.storefrontWeb]: 'storefront-web-2025.06.1',
  [DEMO_IMAGES.storefrontReports]: 'storefront-reports-2025.05.3',
  [DEMO_IMAGES.paymentsApi]: 'payments-api-2025.06.1',
  [DEMO_IMAGES.paymentsApiNext]: 'payments-api-2025.06.2',
  [DEMO_IMAGES.amazonLinux2019]: 'amzn2-2019.06',
  ...CHECKOUT_IMAGE_NAMES,
};

/** Image ids with their names, for people. */
function named(text: string): string {
  return text.replace(/ami-[0-9a-f]+/g, (id) => (IMAGE_NAMES[id] === undefined ? id : `${IMAGE_NAMES[id]}`));
}

function reasonText(reasons: readonly DriftReason[]): string {
  return named(
    reasons
      .map((r) => `${r.field}: expected ${r.expected ?? '(none)'}, found ${r.actual ?? '(none)'}`)
      .join('; '),
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A CliIo whose lines are indented, for a command's output inside a step. */
function indented(io: CliIo, prefix: string): CliIo {
  const shift = (text: string) =>
    text
      .split('\n')
      .map((line) => `${prefix}${line}`)
      .join('\n');
  return {
    stdout: (text) => io.stdout(shift(text)),
    stderr: (text) => io.stderr(shift(text)),
    isTTY: false,
    env: io.env,
  };
}

/** What the evaluator concluded from one event, in a line. */
function detectionLine(summary: DetectionSummary, startedNow: readonly string[]): string {
  const judged = [
    summary.compliant > 0 ? `${summary.compliant} in sync` : '',
    summary.nonCompliant > 0 ? `${summary.nonCompliant} drifted` : '',
    summary.notApplicable > 0 ? `${summary.notApplicable} not applicable` : '',
  ].filter((s) => s !== '');
  const acted: string[] = [];
  if (summary.remediationsStarted > 0) {
    acted.push(`${plural(summary.remediationsStarted, 'remediation')} started (${startedNow.join(', ')})`);
  }
  if (summary.remediationsAlreadyStarted > 0)
    acted.push(`${summary.remediationsAlreadyStarted} already started`);
  if (summary.remediationsHeld > 0) acted.push(`${summary.remediationsHeld} held`);
  const idle =
    summary.nonCompliant -
    summary.remediationsStarted -
    summary.remediationsAlreadyStarted -
    summary.remediationsHeld;
  if (idle > 0) acted.push(`${idle} not acted on yet: only running instances are replaced`);
  if (acted.length === 0) acted.push('nothing to do');
  return `judged ${plural(summary.judged, 'instance')}${judged.length > 0 ? ` (${judged.join(', ')})` : ''} → ${acted.join('; ')}`;
}

/** Runs the demo; resolves with the exit code. Never leaves the emulator running unless `keep`. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { io } = options;
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`;
  const step = (n: number, title: string) => io.stdout(`\n${stamp()} ── ${n}. ${title}`);
  const say = (text: string) => io.stdout(`  ${text}`);

  io.stdout(
    'Phoenix demo: an emulated AWS account, two teams, five fleets, drift as in life, and a release gone wrong.',
  );
  step(1, 'Start the emulated AWS account');
  const emulator = await startEmulator({ env: { MOTO_AMIS_PATH: fileURLToPath(DEMO_IMAGES_FILE) } });
  options.onEmulator?.(emulator);
  const endpoint = emulator.endpoint;
  say(`moto listening on ${endpoint}${emulator.pid === undefined ? '' : ` (pid ${emulator.pid})`}`);
  const clients = makeClients({
    region: DEMO_REGION,
    endpoint,
    credentials: { ...DEMO_CREDENTIALS },
    maxAttempts: 2,
  });
  try {
    const code = await demo(options, { clients, endpoint, step, say, stamp });
    options.onDemoDone?.();
    if (options.keep) {
      io.stdout(
        [
          '',
          `The emulated account is still running at ${endpoint}${emulator.pid === undefined ? '' : ` (moto pid ${emulator.pid})`}.`,
          'Poke at it from another terminal, for example:',
          `  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo npm run --silent phoenix -- plan --desired-state ${DESIRED_STATE_SHOWN} --region ${DEMO_REGION} --endpoint ${endpoint} --table ${DEFAULT_TABLE_NAME}`,
          `  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo aws --endpoint-url ${endpoint} --region ${DEMO_REGION} ec2 describe-instances`,
          'Press Ctrl-C to stop it.',
        ].join('\n'),
      );
      await options.stopRequested;
    }
    return code;
  } finally {
    for (const client of Object.values(clientsInUse(clients))) client.destroy();
    await emulator.stop();
    io.stdout(`${stamp()} Emulated account stopped.`);
  }
}

function clientsInUse(clients: PhoenixClients) {
  return {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    elbv2: clients.elbv2,
    dynamodb: clients.dynamodb,
    sns: clients.sns,
    sqs: clients.sqs,
    cloudwatch: clients.cloudwatch,
  };
}

interface Context {
  clients: PhoenixClients;
  endpoint: string;
  step: (n: number, title: string) => void;
  say: (text: string) => void;
  stamp: () => string;
}

async function demo(options: DemoOptions, ctx: Context): Promise<number> {
  const { io } = options;
  const { clients, endpoint, step, say } = ctx;
  const cli = (argv: string[]) => {
    say(`$ phoenix ${argv.join(' ')}`);
    return main([...argv, '--region', DEMO_REGION, '--endpoint', endpoint], indented(io, '  │ '));
  };

  step(2, 'Seed the estate two teams run');
  const estate = await seedDemoEstate(clients);
  const checkout = await seedCheckout(clients, estate.network);
  await ensureStateTable(clients.dynamodb, DEFAULT_TABLE_NAME, { create: true });
  const inboxes = await createTeamInboxes(clients, { topicName: TOPIC_NAME, teams: TEAMS });
  describeEstate(say, estate, checkout);
  say(
    `Phoenix's state table ${DEFAULT_TABLE_NAME}; topic ${TOPIC_NAME}, one SQS inbox per team (filter policy on "team").`,
  );

  step(3, `The estate matches the desired state in Git (${DESIRED_STATE_SHOWN})`);
  const planned = await cli(['plan', '--desired-state', DESIRED_STATE_SHOWN, '--table', DEFAULT_TABLE_NAME]);
  say(`exit ${planned}`);
  if (planned !== 0)
    throw new DemoFailedError(`phoenix plan found drift before any was made (exit ${planned})`);

  const desired = await loadDesiredStateFile(DESIRED_STATE_PATH);
  const printer = new ProgressPrinter((text) => io.stdout(text), io.isTTY, '  ');
  const phoenix = new Reconciler({
    desiredState: desired,
    clients,
    tableName: DEFAULT_TABLE_NAME,
    topicArn: inboxes.topicArn,
    region: DEMO_REGION,
    waits: 'zero',
    concurrency: 4,
    onProgress: printer.onProgress,
    file: DESIRED_STATE_SHOWN,
    endpoint,
  });

  step(4, 'Drift happens, as in life; the evaluator hears about it from the events AWS delivers');
  for (const make of [editTagByHand, rollOutNewImage, resizeByHand]) {
    const change: Change = make(clients.ec2, estate);
    say(change.title);
    for (const action of change.actions) {
      const event = await action.act();
      const before = phoenix.started.length;
      const summary = await phoenix.handle(event);
      const startedNow = phoenix.started.slice(before).map((s) => s.input.instanceId);
      say(`  ⇢ ${action.caption}: ${detectionLine(summary, startedNow)}`);
    }
  }

  step(
    5,
    'Remediation: the real state machine, run locally, then sweeps until nothing is left (phoenix reconcile)',
  );
  const report = await phoenix.reconcile();
  printer.stop();
  say(renderReport(report).split('\n').at(-1) ?? '');
  if (!report.converged) throw new DemoFailedError('the estate did not converge');

  step(6, 'What happened');
  await summarize(say, clients, desired, report, await drainInboxes(clients.sqs, inboxes));

  step(7, 'Run it again: nothing left to do');
  const again = await cli([
    'reconcile',
    '--desired-state',
    DESIRED_STATE_SHOWN,
    '--topic-arn',
    inboxes.topicArn,
  ]);
  say(`exit ${again}`);
  if (again !== 0)
    throw new DemoFailedError(
      `the second phoenix reconcile did not find the estate converged (exit ${again})`,
    );

  const released = await progressiveRelease(options, ctx, {
    checkout,
    desired,
    network: estate.network,
    inboxes,
  });

  const s = report.summary;
  io.stdout(
    `\n${ctx.stamp()} Demo done: drift found on ${plural(s.driftFound, 'instance')}, ${s.replaced} replaced, every fleet back in line with Git; checkout's broken build halted at its canary, its fix promoted from staging to production (${released} replaced).`,
  );
  return 0;
}

/**
 * Steps 8 and 9: a broken build halted by its canary's alarm, then its fix released through
 * staging and promoted to production (rollout-act.ts). Resolves with the instances replaced.
 */
async function progressiveRelease(
  options: DemoOptions,
  ctx: Context,
  parts: {
    checkout: CheckoutEstate;
    desired: CompiledDesiredState;
    network: DemoEstate['network'];
    inboxes: Awaited<ReturnType<typeof createTeamInboxes>>;
  },
): Promise<number> {
  const { io } = options;
  const { clients, endpoint, step, say } = ctx;
  const cli = (argv: string[]) => {
    say(`$ phoenix ${argv.join(' ')}`);
    return main([...argv, '--region', DEMO_REGION, '--endpoint', endpoint], indented(io, '  │ '));
  };
  const clock = new DemoClock();
  const act: RolloutActContext = {
    ec2: clients.ec2,
    cloudwatch: clients.cloudwatch,
    estate: parts.checkout,
    desired: parts.desired,
    securityGroupId: parts.network.securityGroupIds[1],
    say,
    reconcile: async (hooks) => {
      const printer = new ProgressPrinter((text) => io.stdout(text), io.isTTY, '  ');
      const run = new Reconciler({
        desiredState: parts.desired,
        clients,
        tableName: DEFAULT_TABLE_NAME,
        topicArn: parts.inboxes.topicArn,
        region: DEMO_REGION,
        waits: 'zero',
        concurrency: 4,
        // Two fleets, one after the other, each a canary, a bake and the rest.
        maxRounds: 12,
        onProgress: printer.onProgress,
        file: DESIRED_STATE_SHOWN,
        endpoint,
        hooks,
      });
      try {
        return await run.reconcile();
      } finally {
        printer.stop();
      }
    },
  };

  step(
    8,
    'A new build of checkout, released progressively: a canary in staging, a bake watched by its 5xx alarm',
  );
  const halted = await releaseBrokenBuild(act, clock);
  say(named(renderReport(halted).split('\n').at(-1) ?? ''));
  if (halted.converged) throw new DemoFailedError('the broken checkout build was not stopped');
  const waiting = new Map<string, string>();
  for (const left of halted.leftDrifted) waiting.set(left.fleet, left.why);
  for (const [fleet, why] of waiting) say(`  ${fleet}: ${named(why)}`);
  const listed = await cli(['rollout', 'list', '--table', DEFAULT_TABLE_NAME]);
  if (listed !== 0) throw new DemoFailedError(`phoenix rollout list failed (exit ${listed})`);

  step(9, 'The fix: staging bakes it clean and rolls on, then production takes it (promoted from staging)');
  const promoted = await releaseFixedBuild(act, clock);
  say(named(renderReport(promoted).split('\n').at(-1) ?? ''));
  if (!promoted.converged) throw new DemoFailedError('the fixed checkout build did not converge');
  const after = await cli(['rollout', 'list', '--table', DEFAULT_TABLE_NAME]);
  if (after !== 0) throw new DemoFailedError(`phoenix rollout list failed (exit ${after})`);
  say('What team payments heard about checkout (one conversation per rollout)');
  const received = (await drainInboxes(clients.sqs, parts.inboxes)).payments ?? [];
  for (const n of received) say(`  ${named(n.subject)}`);
  return promoted.summary.replaced + halted.summary.replaced;
}

function describeEstate(say: (text: string) => void, estate: DemoEstate, checkout: CheckoutEstate): void {
  say(
    `team storefront, fleet web:      Auto Scaling group ${estate.web.group} (3 instances) behind target group ${estate.web.group}`,
  );
  say(
    `                                 ${estate.web.excluded} tagged phoenix:skip=true (someone is debugging on it)`,
  );
  say(
    `team storefront, fleet reports:  standalone ${estate.reports.instanceId} from launch template ${estate.reports.template.name}`,
  );
  say(`team payments,   fleet payments-api: Auto Scaling group ${estate.payments.group} (2 instances)`);
  for (const env of [checkout.staging, checkout.production]) {
    say(
      `team payments,   fleet ${env.fleet}: Auto Scaling group ${env.group} (${env.size} instances), alarm ${env.alarm}${env === checkout.production ? ', released after checkout-staging' : ', canary and bake'}`,
    );
  }
  say(`no team, no fleet:               ${estate.bastion} (legacy-bastion, launched by hand in 2019)`);
}

async function runningInstances(clients: PhoenixClients): Promise<InstanceFacts[]> {
  const out = await clients.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(factsFromEc2Instance);
}

async function summarize(
  say: (text: string) => void,
  clients: PhoenixClients,
  desired: CompiledDesiredState,
  report: ReconcileReport,
  inboxes: Record<string, ReceivedNotification[]>,
): Promise<void> {
  say('Drift found');
  for (const r of report.remediations) {
    say(
      `  ${r.instanceId} (${r.fleet}): ${reasonText(r.reasons)}${r.principal === null ? '' : ` — by ${r.principal.split('/').at(-1)}`}`,
    );
  }
  say('Replaced');
  const touched = new Set<string>();
  for (const r of report.remediations.filter((x) => x.outcome === 'succeeded')) {
    touched.add(r.instanceId);
    if (r.replacementId !== null) touched.add(r.replacementId);
    say(
      `  ${r.instanceId} → ${r.replacementId ?? '?'}  (${r.fleet}: fresh from ${r.launchTemplate.name} v${r.launchTemplate.version}, ${(r.durationMs / 1000).toFixed(1)}s, ${r.transitions} states)`,
    );
  }
  say('Left alone');
  const judge = new Judge(clients.ec2, desired.fleets, new Date());
  for (const instance of await runningInstances(clients)) {
    if (touched.has(instance.instanceId)) continue;
    const judgement = await judge.judge(instance);
    const why =
      judgement.kind === 'member'
        ? judgement.verdict.status === 'in-sync'
          ? `in sync with fleet ${judgement.fleet.name}`
          : `fleet ${judgement.fleet.name}: ${judgement.verdict.status}`
        : judgement.why;
    const name = instance.tags.Name === undefined ? '' : ` "${instance.tags.Name}"`;
    say(`  ${instance.instanceId}${name}: ${why}`);
  }
  say('Notifications each team received (SNS topic → SQS queue, filter policy {"team": [...]})');
  for (const [team, received] of Object.entries(inboxes)) {
    const counts = new Map<string, number>();
    for (const n of received) counts.set(n.body.event, (counts.get(n.body.event) ?? 0) + 1);
    const summary = [...counts.entries()].map(([event, n]) => `${n} ${event}`).join(', ');
    say(`  ${team}: ${plural(received.length, 'message')} (${summary})`);
    for (const n of received) say(`    ${n.subject}`);
    const foreign = received.filter((n) => n.attributes.team !== team);
    if (foreign.length > 0) throw new DemoFailedError(`team ${team} received another team's notifications`);
  }
}
