/**
 * Lambda entry point of every logic step of the remediation state machine: the state
 * machine passes `{ step, executionId, startedAt, event?, data }` and this dispatches it to
 * {@link runStep}. Thin on purpose: configuration is parsed once at cold start, clients,
 * store and notifier are built once, and the logic lives in `steps/` (one file per step).
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { clientConfig, type PhoenixClients } from '../aws/clients';
import { Notifier } from '../aws/notifier';
import { RemediationStore } from '../aws/remediation-store';
import { RolloutStore } from '../aws/rollout-store';
import { stepFunctionsCallbacks } from '../aws/task-callbacks';
import type { CompiledDesiredState } from '../domain/model';
import { bundledDesiredState } from '../runtime/desired-state';
import { METRIC_NAMESPACE, PhoenixMetric, PhoenixService } from '../runtime/metric-names';
import { validate } from '../runtime/validation';
import { RemediationEnvironmentError } from './errors';
import { type NotifyResult, runStep, type StepDeps, sweepQueues } from './steps';
import { isQueueSweepEvent } from './sweep-event';

const EnvSchema = z.object({
  PHOENIX_TABLE_NAME: z.string().check(z.minLength(1, 'is empty')),
  PHOENIX_TOPIC_ARN: z
    .string()
    .check(z.regex(/^arn:aws[a-z-]*:sns:[^:]+:\d{12}:.+$/, 'is not an SNS topic ARN')),
  PHOENIX_CONSOLE_REGION: z.optional(z.string().check(z.minLength(1))),
});

export type RemediationEnvironment = z.infer<typeof EnvSchema>;

/** Parses the environment, naming every missing or malformed variable at once. */
export function parseEnvironment(env: Readonly<Record<string, string | undefined>>): RemediationEnvironment {
  const parsed = validate(EnvSchema, env);
  if (parsed.ok) return parsed.value;
  const problems = parsed.issues.map((issue) => {
    const name = issue.path.join('.');
    return env[name] === undefined ? `${name} is not set` : `${name} ${issue.message}`;
  });
  throw new RemediationEnvironmentError(`remediation steps cannot start: ${problems.join('; ')}`);
}

export const logger = new Logger({ serviceName: PhoenixService.remediation });
export const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: PhoenixService.remediation });

/** The clients the steps use. */
export type RemediationClients = Pick<
  PhoenixClients,
  'ec2' | 'autoScaling' | 'elbv2' | 'dynamodb' | 'sns' | 'cloudwatch' | 'sfn'
>;

/** Only the clients the steps use: every client class imported is bundled and parsed at cold start. */
function remediationClients(): RemediationClients {
  const config = clientConfig();
  return {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    dynamodb: new DynamoDBClient(config),
    sns: new SNSClient(config),
    cloudwatch: new CloudWatchClient(config),
    // The fleet queue's grants: SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat.
    sfn: new SFNClient(config),
  };
}

/** Everything the steps need, built once per cold start. */
export function depsFromEnvironment(
  env: RemediationEnvironment,
  options: { clients?: RemediationClients; desiredState?: CompiledDesiredState } = {},
): StepDeps {
  const clients = options.clients ?? remediationClients();
  const clock = () => new Date();
  const deps: StepDeps = {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    elbv2: clients.elbv2,
    store: new RemediationStore(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    notifier: new Notifier(clients.sns, env.PHOENIX_TOPIC_ARN),
    cloudwatch: clients.cloudwatch,
    rollouts: new RolloutStore(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    callbacks: stepFunctionsCallbacks(clients.sfn),
    logger,
    desiredState: options.desiredState ?? bundledDesiredState(),
    clock,
  };
  if (env.PHOENIX_CONSOLE_REGION !== undefined) deps.consoleRegion = env.PHOENIX_CONSOLE_REGION;
  return deps;
}

const OUTCOME_METRIC: Partial<Record<NotifyResult['outcome'], string>> = {
  succeeded: PhoenixMetric.RemediationSucceeded,
  'rolled-back': PhoenixMetric.RemediationFailed,
  failed: PhoenixMetric.RemediationFailed,
  blocked: PhoenixMetric.RemediationBlocked,
};

/** Ends of an execution that replaced, or tried to: the ones whose duration is worth a graph. */
const TIMED_OUTCOMES: ReadonlySet<NotifyResult['outcome']> = new Set(['succeeded', 'rolled-back', 'failed']);

function isNotifyResult(value: unknown): value is NotifyResult {
  return typeof value === 'object' && value !== null && 'outcome' in value && 'notified' in value;
}

/** The step handler over given deps (tests build it with their own). */
export function makeHandler(deps: StepDeps): (event: unknown) => Promise<unknown> {
  return async (event) => {
    const step =
      typeof event === 'object' && event !== null && 'step' in event ? String(event.step) : 'unknown';
    logger.appendKeys({ step });
    if (isQueueSweepEvent(event)) {
      const report = await sweepQueues(deps);
      const granted = report.admitted.reduce((sum, fleet) => sum + fleet.granted.length, 0);
      metrics.addMetric(PhoenixMetric.QueueGranted, MetricUnit.Count, granted);
      logger.info('Queue sweep', {
        granted,
        heartbeats: report.heartbeats,
        resent: report.resent,
        forgotten: report.forgotten,
        waiting: report.admitted.flatMap((fleet) =>
          fleet.waiting === undefined ? [] : [{ fleet: fleet.fleet, why: fleet.waiting }],
        ),
      });
      return report;
    }
    try {
      const result = await runStep(deps, event);
      if (isNotifyResult(result)) {
        const metric = OUTCOME_METRIC[result.outcome];
        if (metric !== undefined) metrics.addMetric(metric, MetricUnit.Count, 1);
        if (result.reason === 'started')
          metrics.addMetric(PhoenixMetric.RemediationStarted, MetricUnit.Count, 1);
        // How long a replacement takes, start to end, whichever way it ended.
        if (result.durationSeconds !== undefined && TIMED_OUTCOMES.has(result.outcome))
          metrics.addMetric(
            PhoenixMetric.RemediationDurationSeconds,
            MetricUnit.Seconds,
            result.durationSeconds,
          );
        logger.info('Remediation step', {
          outcome: result.outcome,
          reason: result.reason,
          notified: result.notified,
        });
      }
      return result;
    } catch (error) {
      logger.warn('Remediation step failed', { error });
      throw error;
    }
  };
}

let cachedDeps: StepDeps | undefined;
function deps(): StepDeps {
  cachedDeps ??= depsFromEnvironment(parseEnvironment(process.env));
  return cachedDeps;
}

/** The Lambda handler infra bundles (`functions/remediation/handler.ts`, `handler`). */
export const handler = middy((event: unknown) => makeHandler(deps())(event))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
