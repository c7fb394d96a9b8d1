/**
 * The definition's Task states, run here: the steps Lambda in-process, and every
 * `arn:aws:states:::aws-sdk:SERVICE:ACTION` task as the same AWS SDK v3 command sent to
 * whatever endpoint the given clients point at.
 *
 * Errors of SDK integrations are renamed the way Step Functions names them, so the
 * definition's `Retry`/`Catch` see what they would see in AWS:
 * `<ServiceName>.<ErrorName>` in PascalCase, with `Exception` as the suffix whatever the
 * service calls its errors (`AutoScaling.ScalingActivityInProgressFault` →
 * `AutoScaling.ScalingActivityInProgressException`). An error the service does not model
 * becomes `<ServiceName>.<ServiceName>Exception`: EC2 models none, so every EC2 error
 * (throttling included) is `Ec2.Ec2Exception`, with the EC2 code in the cause. A steps
 * Lambda error keeps its name, and its cause is the JSON the Lambda runtime reports
 * (`{"errorType","errorMessage"}`).
 */

import * as autoScalingSdk from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as dynamodbSdk from '@aws-sdk/client-dynamodb';
import * as ec2Sdk from '@aws-sdk/client-ec2';
import * as elbv2Sdk from '@aws-sdk/client-elastic-load-balancing-v2';
import * as snsSdk from '@aws-sdk/client-sns';
import type { CallGate } from '../../aws/call-gate';
import { runStep, type StepDeps } from '../../remediation/steps';
import { LocalRunnerError } from '../errors';

/** Something with an SDK v3 `send`. */
export interface Sender {
  send(command: never): Promise<unknown>;
}

/** The clients a local run talks to; each only needs `send`. */
export interface LocalClients {
  ec2: Pick<ec2Sdk.EC2Client, 'send'>;
  autoScaling: Pick<autoScalingSdk.AutoScalingClient, 'send'>;
  elbv2: Pick<elbv2Sdk.ElasticLoadBalancingV2Client, 'send'>;
  dynamodb: Pick<dynamodbSdk.DynamoDBClient, 'send'>;
  sns: Pick<snsSdk.SNSClient, 'send'>;
  /** The fleets' rollout alarms; absent where no fleet declares any. */
  cloudwatch?: Pick<CloudWatchClient, 'send'>;
}

/** Step Functions' service names, the SDK module, the client, and the client's base exception. */
const SERVICES = {
  ec2: {
    prefix: 'Ec2',
    sdk: ec2Sdk as Record<string, unknown>,
    client: 'ec2',
    base: ec2Sdk.EC2ServiceException,
  },
  autoscaling: {
    prefix: 'AutoScaling',
    sdk: autoScalingSdk as Record<string, unknown>,
    client: 'autoScaling',
    base: autoScalingSdk.AutoScalingServiceException,
  },
  elasticloadbalancingv2: {
    prefix: 'ElasticLoadBalancingV2',
    sdk: elbv2Sdk as Record<string, unknown>,
    client: 'elbv2',
    base: elbv2Sdk.ElasticLoadBalancingV2ServiceException,
  },
  dynamodb: {
    prefix: 'DynamoDb',
    sdk: dynamodbSdk as Record<string, unknown>,
    client: 'dynamodb',
    base: dynamodbSdk.DynamoDBServiceException,
  },
  sns: {
    prefix: 'Sns',
    sdk: snsSdk as Record<string, unknown>,
    client: 'sns',
    base: snsSdk.SNSServiceException,
  },
} as const satisfies Record<
  string,
  {
    prefix: string;
    sdk: Record<string, unknown>;
    client: keyof LocalClients;
    base: abstract new (...args: never[]) => Error;
  }
>;

type ServiceName = keyof typeof SERVICES;

function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICES, name);
}

/** The Step Functions error name of an SDK integration's error (see the module comment). */
export function stepFunctionsErrorName(service: string, error: unknown): string {
  if (!isServiceName(service)) return 'States.TaskFailed';
  const { prefix, base } = SERVICES[service];
  const modeled = error instanceof base && error.constructor !== base;
  if (!modeled || !(error instanceof Error)) return `${prefix}.${prefix}Exception`;
  return `${prefix}.${error.name.replace(/(Exception|Fault)$/, '')}Exception`;
}

/** The Step Functions prefixes of the services the definition calls (for the ASL name check). */
export const SERVICE_ERROR_PREFIXES: readonly string[] = Object.values(SERVICES).map((s) => s.prefix);

/** The Step Functions error prefix of an `aws-sdk` task's service; `States` for one not called. */
export function serviceErrorPrefix(service: string): string {
  return isServiceName(service) ? SERVICES[service].prefix : 'States';
}

/**
 * A thrown error with exactly the name and cause the interpreter should see. Outside
 * Phoenix's hierarchy on purpose: it stands for Step Functions' own errors (`States.*`,
 * `DynamoDb.*`), which the steps dispatcher must never take for one of Phoenix's.
 */
export class StateError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

function pascal(action: string): string {
  return action.charAt(0).toUpperCase() + action.slice(1);
}

function jsonClone(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** What an `aws-sdk` Task's resource calls, if it is one the local account can run. */
export function sdkTarget(resource: string): { service: ServiceName; action: string } | undefined {
  const match = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(resource);
  if (match === null) return undefined;
  const [, service = '', action = ''] = match;
  return isServiceName(service) ? { service, action } : undefined;
}

/**
 * A Task that invokes the steps Lambda: the state machine's `lambda:Invoke` answers to the
 * gate, then the step runs in-process with `deps`; its error is what the Lambda runtime reports.
 */
export function lambdaTask(
  deps: StepDeps,
  apiCalls: Record<string, number>,
  functionArn: string,
  gate: CallGate | undefined,
) {
  return async (taskInput: unknown): Promise<unknown> => {
    apiCalls['Lambda.Invoke'] = (apiCalls['Lambda.Invoke'] ?? 0) + 1;
    try {
      await gate?.({
        principal: 'state-machine',
        client: 'lambda',
        operation: 'Invoke',
        input: { FunctionName: functionArn, Payload: taskInput },
      });
    } catch (error) {
      // What Step Functions reports when Lambda refuses the invocation itself.
      throw new StateError(
        'Lambda.AWSLambdaException',
        error instanceof Error ? error.message : String(error),
      );
    }
    try {
      return jsonClone(await runStep(deps, taskInput));
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      // What the Lambda runtime reports, so the definition parses the same cause as in AWS.
      throw new StateError(name, JSON.stringify({ errorType: name, errorMessage: message }));
    }
  };
}

/** An `aws-sdk:SERVICE:ACTION` Task: the SDK v3 command of that name, its error renamed. */
export function sdkTask(service: ServiceName, action: string, clients: LocalClients) {
  const { sdk, client } = SERVICES[service];
  const Command = sdk[`${pascal(action)}Command`];
  if (typeof Command !== 'function') {
    throw new LocalRunnerError(`aws-sdk:${service}:${action} has no SDK v3 command ${pascal(action)}Command`);
  }
  const CommandClass = Command as new (input: unknown) => never;
  const target = clients[client] as Sender;
  return async (taskInput: unknown): Promise<unknown> => {
    try {
      const output = (await target.send(new CommandClass(taskInput))) as Record<string, unknown>;
      const { $metadata: _metadata, ...rest } = output;
      return jsonClone(rest);
    } catch (error) {
      const name = stepFunctionsErrorName(service, error);
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StateError(name, detail);
    }
  };
}
