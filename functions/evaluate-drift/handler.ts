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
import middy from '@middy/core';
import { makeClients, type PhoenixClients } from '../aws/clients';
import { Notifier } from '../aws/notifier';
import { StateStore } from '../aws/state-store';
import type { CompiledDesiredState } from '../domain/model';
import { bundledDesiredState } from '../runtime/desired-state';
import { METRIC_NAMESPACE, PhoenixService } from '../runtime/metric-names';
import { type DetectionDeps, type DetectionSummary, handleEvent } from './core';
import { type EvaluatorEnvironment, parseEnvironment } from './environment';

export const logger = new Logger({ serviceName: PhoenixService.evaluator });
export const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: PhoenixService.evaluator });

/** Everything the core needs, built once per cold start. */
export function depsFromEnvironment(
  env: EvaluatorEnvironment,
  options: { clients?: PhoenixClients; desiredState?: CompiledDesiredState } = {},
): DetectionDeps {
  const clients = options.clients ?? makeClients();
  const clock = () => new Date();
  const deps: DetectionDeps = {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    config: clients.config,
    sfn: clients.sfn,
    store: new StateStore(clients.dynamodb, env.PHOENIX_TABLE_NAME, clock),
    notifier: new Notifier(clients.sns, env.PHOENIX_TOPIC_ARN),
    desiredState: options.desiredState ?? bundledDesiredState(),
    stateMachineArn: env.PHOENIX_STATE_MACHINE_ARN,
    clock,
    logger,
    metrics,
  };
  if (env.PHOENIX_CONSOLE_REGION !== undefined) deps.consoleRegion = env.PHOENIX_CONSOLE_REGION;
  return deps;
}

/** The handler function over given dependencies (tests pass their own). */
export function makeHandler(deps: DetectionDeps): (event: unknown) => Promise<DetectionSummary> {
  return (event) => handleEvent(deps, event);
}

export const handler = middy(makeHandler(depsFromEnvironment(parseEnvironment(process.env))))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
