/**
 * Benchmark 4, remediation overhead: full remediations of drifted Auto Scaling group members
 * (and, held to the same budgets, of drifted standalone instances) through the local runner (the real ASL, the real steps, SDK integrations against the
 * emulator) with every wait zeroed. Per remediation: state transitions (≤ 30 on the happy
 * path), AWS API calls by operation (≤ 20), the history events AWS would write (≤ 100) and
 * our own compute (CPU time of this process: steps, SDK marshalling and the local
 * interpreter; the emulator runs in another process). The recorded event log feeds the
 * convergence model (benchmark 5).
 */
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import { seedDriftedAsgFleet, seedDriftedStandaloneFleet } from '../emulator/seed';
import { createStateTable } from '../emulator/table';
import { makeClients } from '../functions/aws/clients';
import { describeInstances, resolveLaunchTemplate } from '../functions/aws/inventory';
import { evaluateDrift } from '../functions/domain/drift/engine';
import { findFleet } from '../functions/domain/drift/match';
import type { CompiledDesiredState, CompiledFleet, InstanceFacts } from '../functions/domain/model';
import { substitutedDefinition } from '../functions/local/step-functions/definition';
import type { RunEvent } from '../functions/local/step-functions/run-events';
import { type RunResult, runRemediation } from '../functions/local/step-functions/runner';
import {
  type RemediationInput,
  remediationInputFor,
  type Timings,
  TimingsSchema,
} from '../functions/remediation/input';
import type { ReplacementUsage } from './lib/cost-model';
import { benchDesiredState } from './lib/desired-state';
import { historyEventsOf, stateTypesOf } from './lib/history';
import type { Progress } from './lib/progress';
import type { BenchResult } from './lib/results';
import { median } from './lib/stats';

export const TRANSITIONS_BUDGET = 30;
export const API_CALLS_BUDGET = 20;
export const HISTORY_EVENTS_BUDGET = 100;

const GROUP_SIZE = 6;
/** Standalone instances remediated beside the group's members. */
const STANDALONE_REMEDIATIONS = 3;

export const REMEDIATION_DESIRED_STATE_YAML = `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 90 }
fleets:
  web:
    match: { autoScalingGroup: bench-rem-asg }
    launchTemplate: { name: bench-rem-lt, version: $Default }
    tags: { Owner: team-bench-rem }
    team: web
  api:
    match: { tags: { App: bench-api } }
    launchTemplate: { name: bench-api-lt, version: $Default }
    tags: { Owner: team-bench-api }
    team: api
`;

/** A state of the definition, as the convergence model needs it. */
export interface StateInfo {
  type: string;
  resource?: string;
  retry?: ReadonlyArray<Record<string, unknown> & { ErrorEquals?: string[] }>;
}

/** One remediation as the local runner recorded it, for the convergence model. */
export interface RecordedRemediation {
  events: RunEvent[];
  timings: Timings;
  /** Every state of the definition (nested ones included), by name. */
  states: ReadonlyMap<string, StateInfo>;
}

export interface RemediationOutcome {
  results: BenchResult[];
  notes: string[];
  recorded: RecordedRemediation;
  /** One replacement's work, by strategy, for the cost model (the costliest run of each). */
  usage: { asg: ReplacementUsage; standalone: ReplacementUsage };
}

/** One replacement's work as the cost model reads it: the costliest of the runs. */
function usageOf(runs: readonly Run[], stateTypes: ReturnType<typeof stateTypesOf>): ReplacementUsage {
  const costliest = [...runs].sort((a, b) => sum(b.result.apiCalls) - sum(a.result.apiCalls))[0];
  if (costliest === undefined) throw new Error('remediation bench: nothing ran');
  return {
    transitions: Math.max(...runs.map((r) => r.result.transitions)),
    lambdaInvocations: Math.max(...runs.map((r) => r.result.apiCalls['Lambda.Invoke'] ?? 0)),
    apiCalls: awsCallsOf(costliest.result.apiCalls),
    historyEvents: Math.max(...runs.map((r) => historyEventsOf(r.result.events, stateTypes))),
  };
}

/** AWS API calls of a run: every `Service.Operation` but the steps Lambda's own invocations. */
export function awsCallsOf(apiCalls: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(apiCalls).filter(([op]) => op !== 'Lambda.Invoke'));
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function inputFor(
  clients: ReturnType<typeof makeClients>,
  state: CompiledDesiredState,
  instanceId: string,
): Promise<RemediationInput> {
  const now = new Date();
  const [instance] = await describeInstances(clients.ec2, [instanceId]);
  const fleet = instance === undefined ? undefined : memberFleet(instance, state);
  if (instance === undefined || fleet === undefined) throw new Error(`remediation bench: no ${instanceId}`);
  const template = await resolveLaunchTemplate(clients.ec2, fleet.launchTemplate);
  const verdict = evaluateDrift({ instance, fleet, template, now });
  if (verdict.status !== 'drifted') throw new Error(`remediation bench: ${instanceId} is ${verdict.status}`);
  // No timings: the execution carries the production defaults the convergence model reads.
  return remediationInputFor({
    instanceId,
    verdict,
    template,
    desiredState: state,
    detectedAt: now,
    trigger: 'benchmark',
  });
}

type Run = { result: RunResult; cpuMs: number; wallMs: number; input: RemediationInput };

/** The figures of one strategy's runs, as results rows (`prefix`: `remediation` or `remediation.standalone`). */
function figuresOf(
  prefix: string,
  runs: readonly Run[],
  stateTypes: ReturnType<typeof stateTypesOf>,
): { results: BenchResult[]; notes: string[] } {
  const first = runs[0];
  if (first === undefined) throw new Error('remediation bench: nothing ran');
  const transitions = Math.max(...runs.map((r) => r.result.transitions));
  const awsCalls = runs.map((r) => awsCallsOf(r.result.apiCalls));
  const maxCalls = Math.max(...awsCalls.map(sum));
  const history = Math.max(...runs.map((r) => historyEventsOf(r.result.events, stateTypes)));
  const byOperation = awsCalls[0] ?? {};
  const path = first.result.events
    .filter((e) => e.type === 'StateEntered')
    .map((e) => e.state)
    .join(' > ');
  const label = prefix === 'remediation' ? 'Auto Scaling member' : 'standalone instance';
  return {
    results: [
      {
        name: `${prefix}.state-transitions`,
        value: transitions,
        unit: 'transitions',
        budget: TRANSITIONS_BUDGET,
      },
      { name: `${prefix}.aws-api-calls`, value: maxCalls, unit: 'calls', budget: API_CALLS_BUDGET },
      { name: `${prefix}.history-events`, value: history, unit: 'events', budget: HISTORY_EVENTS_BUDGET },
      {
        name: `${prefix}.cpu-per-remediation`,
        value: Math.round(median(runs.map((r) => r.cpuMs))),
        unit: 'ms',
        budget: null,
      },
    ],
    notes: [
      `${label}: path (${first.result.transitions} states): ${path}`,
      `${label}: AWS calls per remediation: ${Object.entries(byOperation)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([op, n]) => `${op} ${n}`)
        .join(', ')}; steps Lambda invocations ${first.result.apiCalls['Lambda.Invoke'] ?? 0}`,
      `${label}: CPU per remediation (median of ${runs.length}) ${median(runs.map((r) => r.cpuMs)).toFixed(0)} ms, wall ${median(
        runs.map((r) => r.wallMs),
      ).toFixed(0)} ms against the emulator (waits zeroed)`,
    ],
  };
}

export async function remediationBench(options: {
  endpoint: string;
  remediations: number;
  progress: Progress;
}): Promise<RemediationOutcome> {
  const { progress } = options;
  progress.say(
    'remediation: seeding a drifted Auto Scaling group, standalone instances, the state table and the topic',
  );
  const clients = makeClients({
    region: 'us-east-1',
    endpoint: options.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 2,
  });
  const state = benchDesiredState(REMEDIATION_DESIRED_STATE_YAML);
  const tableName = await createStateTable(clients.dynamodb, 'phoenix-bench-state');
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: 'phoenix-bench-notifications' }));
  const topicArn = topic.TopicArn ?? '';
  // The fleets the remediation specs replace: every member launched from version 1 before
  // version 2 became the default (drifted in template version and image).
  const members = (
    await seedDriftedAsgFleet(clients, { name: 'bench-rem', desired: GROUP_SIZE, max: GROUP_SIZE + 1 })
  ).group.instanceIds;
  const standalone = (
    await seedDriftedStandaloneFleet(clients, { name: 'bench-api', count: STANDALONE_REMEDIATIONS })
  ).instanceIds;
  if (members.length < options.remediations) throw new Error('remediation bench: not enough drifted members');

  const remediate = async (instanceIds: readonly string[], what: string): Promise<Run[]> => {
    const runs: Run[] = [];
    for (const [i, instanceId] of instanceIds.entries()) {
      const input = await inputFor(clients, state, instanceId);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const result = await runRemediation(input, {
        clients: {
          ec2: clients.ec2,
          autoScaling: clients.autoScaling,
          elbv2: clients.elbv2,
          dynamodb: clients.dynamodb,
          sns: clients.sns,
        },
        deps: { desiredState: state, tableName, topicArn },
        waits: 'zero',
      });
      const wallMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const outcome = (result.output as { outcome?: string } | undefined)?.outcome;
      if (result.status !== 'SUCCEEDED' || outcome !== 'succeeded') {
        throw new Error(
          `remediation bench: ${instanceId} did not succeed (${result.status} ${outcome ?? ''} ${result.error ?? ''} ${result.cause ?? ''})`,
        );
      }
      runs.push({ result, cpuMs: (cpu.user + cpu.system) / 1000, wallMs, input });
      progress.count(what, i + 1, instanceIds.length);
    }
    return runs;
  };
  const asgRuns = await remediate(members.slice(0, options.remediations), 'Auto Scaling remediations');
  const standaloneRuns = await remediate(standalone, 'standalone remediations');

  const definition = substitutedDefinition({
    StepsFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-steps',
    TableName: tableName,
    TopicArn: topicArn,
  }) as unknown as { States: Record<string, unknown> };
  const stateTypes = stateTypesOf(definition);
  const asg = figuresOf('remediation', asgRuns, stateTypes);
  const alone = figuresOf('remediation.standalone', standaloneRuns, stateTypes);
  const first = asgRuns[0];
  if (first === undefined) throw new Error('remediation bench: nothing ran');

  return {
    results: [...asg.results, ...alone.results],
    notes: [...asg.notes, ...alone.notes],
    usage: { asg: usageOf(asgRuns, stateTypes), standalone: usageOf(standaloneRuns, stateTypes) },
    recorded: {
      events: first.result.events,
      timings: z.parse(TimingsSchema, first.input.timings ?? {}),
      states: statesOf(definition),
    },
  };
}

/** The fleet an instance is a member of (the bench declares one of each kind). */
function memberFleet(instance: InstanceFacts, state: CompiledDesiredState): CompiledFleet | undefined {
  const match = findFleet(instance, state.fleets);
  return match.kind === 'member' ? match.fleet : undefined;
}

interface AslState {
  Type?: string;
  Resource?: string;
  Retry?: Array<Record<string, unknown> & { ErrorEquals?: string[] }>;
  ItemProcessor?: { States: Record<string, AslState> };
  Iterator?: { States: Record<string, AslState> };
  Branches?: Array<{ States: Record<string, AslState> }>;
}

/** Every state of a definition by name, descending into Map and Parallel states. */
export function statesOf(definition: { States: Record<string, unknown> }): Map<string, StateInfo> {
  const states = new Map<string, StateInfo>();
  const walk = (level: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(level)) {
      const info: StateInfo = { type: state.Type ?? 'Unknown' };
      if (state.Resource !== undefined) info.resource = state.Resource;
      if (state.Retry !== undefined) info.retry = state.Retry;
      states.set(name, info);
      if (state.ItemProcessor !== undefined) walk(state.ItemProcessor.States);
      if (state.Iterator !== undefined) walk(state.Iterator.States);
      for (const branch of state.Branches ?? []) walk(branch.States);
    }
  };
  walk(definition.States as Record<string, AslState>);
  return states;
}
