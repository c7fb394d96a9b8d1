/**
 * One measurement of benchmark 2 in its own process (bundled by sweep.ts and run with plain
 * Node, so its peak RSS is the workload's, not a TypeScript loader's):
 *
 * - `sweep`: the evaluator's scheduled sweep, through its core (`handleEvent` with a Config
 *   `ScheduledNotification`), with real EC2 / Auto Scaling clients against the emulator,
 *   Powertools logger and metrics as in Lambda, and counting stand-ins for AWS Config (the
 *   emulator refuses real PutEvaluations), Step Functions, the state table and SNS.
 * - `listing`: the baseline, a plain paginated DescribeInstances of the same instances
 *   (the same server-side filters, pages of 1,000) with nothing done to them.
 *
 * Input in the environment: BENCH_MODE, BENCH_ENDPOINT, BENCH_DESIRED_STATE (a compiled
 * desired state as JSON). Output: one JSON line on stdout, last.
 */
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { paginateDescribeInstances } from '@aws-sdk/client-ec2';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { makeClients } from '../functions/aws/clients';
import { fleetFilters } from '../functions/aws/inventory';
import type { CompiledDesiredState } from '../functions/domain/model';
import { type DetectionDeps, type DetectionStore, handleEvent } from '../functions/evaluate-drift/core';
import scheduledEvent from '../test/fixtures/events/config-scheduled.json' with { type: 'json' };
import { type CallCounts, countCalls, countingStub, type PageRequest } from './lib/counting';

/** What the child reports. */
export interface SweepChildResult {
  mode: 'sweep' | 'listing';
  wallMs: number;
  instances: number;
  calls: CallCounts;
  pages: PageRequest[];
  /** Peak resident set size of this process, bytes. */
  maxRssBytes: number;
  evaluations: number;
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<SweepChildResult> {
  const mode = required('BENCH_MODE');
  if (mode !== 'sweep' && mode !== 'listing')
    throw new Error(`BENCH_MODE must be sweep or listing, not ${mode}`);
  const desiredState = JSON.parse(
    readFileSync(required('BENCH_DESIRED_STATE'), 'utf8'),
  ) as CompiledDesiredState;
  const calls: CallCounts = {};
  const pages: PageRequest[] = [];
  const clients = makeClients({
    region: 'us-east-1',
    endpoint: required('BENCH_ENDPOINT'),
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const ec2 = countCalls(clients.ec2, calls, pages);
  const autoScaling = countCalls(clients.autoScaling, calls);

  if (mode === 'listing') {
    const started = performance.now();
    let instances = 0;
    for (const fleet of desiredState.fleets) {
      for await (const page of paginateDescribeInstances(
        { client: ec2, pageSize: 1000 },
        { Filters: fleetFilters(fleet) },
      )) {
        for (const reservation of page.Reservations ?? []) instances += reservation.Instances?.length ?? 0;
      }
    }
    const wallMs = performance.now() - started;
    return { mode, wallMs, instances, calls, pages, maxRssBytes: maxRss(), evaluations: 0 };
  }

  let evaluations = 0;
  const config = countingStub<Pick<ConfigServiceClient, 'send'>>('ConfigService', calls, {
    PutEvaluationsCommand: (input) => {
      evaluations += (input as { Evaluations?: unknown[] }).Evaluations?.length ?? 0;
      return { FailedEvaluations: [] };
    },
  });
  const sfn = countingStub<Pick<SFNClient, 'send'>>('SFN', calls, {});
  const count = (operation: string) => {
    calls[operation] = (calls[operation] ?? 0) + 1;
  };
  const store: DetectionStore = {
    async pauseState() {
      count('DynamoDB.GetItem');
      return { paused: false };
    },
    async claimNotification() {
      count('DynamoDB.PutItem');
      return true;
    },
    async releaseNotification() {
      count('DynamoDB.DeleteItem');
    },
    async getQuarantine() {
      count('DynamoDB.GetItem');
      return undefined;
    },
    async driftAttempt() {
      count('DynamoDB.GetItem');
      return { attempt: 0 };
    },
  };
  const logger = new Logger({ serviceName: 'phoenix-evaluate-drift' });
  const metrics = new Metrics({ namespace: 'Phoenix', serviceName: 'evaluate-drift' });
  const deps: DetectionDeps = {
    ec2,
    autoScaling,
    config,
    sfn,
    store,
    notifier: {
      async publish() {
        count('SNS.Publish');
      },
    },
    desiredState,
    stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance',
    clock: () => new Date(),
    logger,
    metrics,
  };
  const started = performance.now();
  const summary = await handleEvent(deps, scheduledEvent);
  metrics.publishStoredMetrics();
  const wallMs = performance.now() - started;
  return { mode, wallMs, instances: summary.judged, calls, pages, maxRssBytes: maxRss(), evaluations };
}

/** `maxRSS` is in kilobytes. */
function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

const result = await main();
process.stdout.write(`\n${JSON.stringify(result)}\n`);
