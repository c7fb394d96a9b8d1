/**
 * Lambda entry point of the evaluator: AWS Config rule invocations and EventBridge events
 * (CloudTrail API calls, EC2 state changes). Thin on purpose: configuration is parsed once
 * at cold start, the clients and the state store are built once, and every event goes to
 * {@link handleEvent} in `core.ts`, where the logic and its decisions live.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { clientConfig, type PhoenixClients } from '../aws/clients';
import { ComplianceLedger } from '../aws/compliance-ledger';
import { Notifier } from '../aws/notifier';
import { RolloutStore } from '../aws/rollout-store';
import { StateStore } from '../aws/state-store';
import type { CompiledDesiredState } from '../domain/model';
import { bundledDesiredState } from '../runtime/desired-state';
import { METRIC_NAMESPACE, PhoenixService } from '../runtime/metric-names';
import { type DetectionCounts, type DetectionDeps, handleEvent } from './core';
import { countsOf } from './deps';
import { type EvaluatorEnvironment, parseEnvironment } from './environment';

export const logger = new Logger({ serviceName: PhoenixService.evaluator });
export const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: PhoenixService.evaluator });

/** The clients the evaluator uses. */
export type EvaluatorClients = Pick<
  PhoenixClients,
  'ec2' | 'autoScaling' | 'config' | 'sfn' | 'dynamodb' | 'sns' | 'cloudwatch'
>;

/** Only the clients the evaluator uses: every client class imported is bundled and parsed at cold start. */
function evaluatorClients(): EvaluatorClients {
  const config = clientConfig();
  return {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    config: new ConfigServiceClient(config),
    sfn: new SFNClient(config),
    dynamodb: new DynamoDBClient(config),
    sns: new SNSClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
}

/** Everything the core needs, built once per cold start. */
export function depsFromEnvironment(
  env: EvaluatorEnvironment,
  options: { clients?: EvaluatorClients; desiredState?: CompiledDesiredState } = {},
): DetectionDeps {
  const clients = options.clients ?? evaluatorClients();
  const clock = () => new Date();
  const deps: DetectionDeps = {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    config: clients.config,
    sfn: clients.sfn,
    store: new StateStore(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    ledger: new ComplianceLedger(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    notifier: new Notifier(clients.sns, env.PHOENIX_TOPIC_ARN),
    desiredState: options.desiredState ?? bundledDesiredState(),
    stateMachineArn: env.PHOENIX_STATE_MACHINE_ARN,
    clock,
    logger,
    metrics,
    rolloutReaders: {
      cloudwatch: clients.cloudwatch,
      rollouts: new RolloutStore(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    },
  };
  if (env.PHOENIX_CONSOLE_REGION !== undefined) deps.consoleRegion = env.PHOENIX_CONSOLE_REGION;
  if (env.PHOENIX_DEPLOYMENT_ID !== undefined) deps.deploymentId = env.PHOENIX_DEPLOYMENT_ID;
  return deps;
}

/**
 * The handler function over given dependencies (tests pass their own). The Lambda returns the
 * counts only: a sweep's per-instance decisions run to megabytes (Lambda caps a response at
 * 6 MB), and nobody reads an asynchronous invocation's answer; in-process callers call
 * `handleEvent` and get them.
 */
export function makeHandler(deps: DetectionDeps): (event: unknown) => Promise<DetectionCounts> {
  return async (event) => countsOf(await handleEvent(deps, event));
}

export const handler = middy(makeHandler(depsFromEnvironment(parseEnvironment(process.env))))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
