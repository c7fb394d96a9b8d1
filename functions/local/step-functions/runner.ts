/**
 * Runs the real remediation state machine (`state-machines/remediate-instance.asl.json`)
 * locally with `aws-local-stepfunctions`: the steps Lambda runs in-process, and every
 * `arn:aws:states:::aws-sdk:SERVICE:ACTION` task is the same AWS SDK v3 command sent to
 * whatever endpoint the given clients point at (the emulated account in tests, a real
 * account for `phoenix reconcile`).
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
import { randomUUID } from 'node:crypto';
import * as autoScalingSdk from '@aws-sdk/client-auto-scaling';
import * as dynamodbSdk from '@aws-sdk/client-dynamodb';
import * as ec2Sdk from '@aws-sdk/client-ec2';
import * as elbv2Sdk from '@aws-sdk/client-elastic-load-balancing-v2';
import * as snsSdk from '@aws-sdk/client-sns';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import definitionJson from '../../../state-machines/remediate-instance.asl.json' with { type: 'json' };
import { type CallGate, gateClients } from '../../aws/call-gate';
import { type NotificationPublisher, Notifier } from '../../aws/notifier';
import { RemediationStore } from '../../aws/remediation-store';
import { PhoenixError } from '../../domain/errors';
import type { CompiledDesiredState } from '../../domain/model';
import { executionName } from '../../evaluate-drift/execution';
import type { RemediationInput } from '../../remediation/input';
import { runStep, type StepDeps } from '../../remediation/steps';

/** Something with an SDK v3 `send`. */
interface Sender {
  send(command: never): Promise<unknown>;
}

/** The clients a local run talks to; each only needs `send`. */
export interface LocalClients {
  ec2: Pick<ec2Sdk.EC2Client, 'send'>;
  autoScaling: Pick<autoScalingSdk.AutoScalingClient, 'send'>;
  elbv2: Pick<elbv2Sdk.ElasticLoadBalancingV2Client, 'send'>;
  dynamodb: Pick<dynamodbSdk.DynamoDBClient, 'send'>;
  sns: Pick<snsSdk.SNSClient, 'send'>;
}

/** What the steps need besides the clients (the runner builds the store and notifier over counted clients). */
export interface LocalDeps {
  desiredState: CompiledDesiredState;
  /** The state table (`${TableName}` in the definition). */
  tableName: string;
  /** The notification topic (`${TopicArn}`). */
  topicArn: string;
  /** Defaults to the wall clock. Tests move it by hand. */
  clock?: () => Date;
  /** Replaces the SNS notifier (e.g. to collect notifications in memory). */
  notifier?: NotificationPublisher;
  /** Region in notification console links and local ARNs (default us-east-1). */
  region?: string;
}

/** One entry of the event log. */
export interface RunEvent {
  type:
    | 'ExecutionStarted'
    | 'ExecutionSucceeded'
    | 'ExecutionFailed'
    | 'StateEntered'
    | 'StateExited'
    | 'StateFailed'
    | 'StateRetried'
    | 'StateCaught'
    | 'Other';
  /** The state, for state events. */
  state?: string;
  instanceId: string;
  /** Epoch milliseconds. */
  at: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** The error name, for failures, retries and catches. */
  error?: string;
  /** Retry attempt number, for `StateRetried`. */
  attempt?: number;
  /** Map iteration index, for states inside a Map. */
  index?: number;
}

/** What the hook after every Task state sees (Tasks are the only states that change anything). */
export interface AfterStateEvent {
  state: string;
  resource: 'lambda' | `${string}:${string}`;
  input: unknown;
  output?: unknown;
  /** The error name as the state machine sees it, when the task failed. */
  error?: string;
}

/** Test-only faults. */
export interface Faults {
  /** Fail each named Task state this many times with the throttling error AWS would report for it. */
  throttle?: Readonly<Record<string, number>>;
  /**
   * Report instances as impaired (failed status checks), which the emulator cannot do:
   * `'replacement'` impairs every instance but the one being replaced.
   */
  impaired?: 'replacement' | ((instanceId: string) => boolean);
}

export interface RunRemediationOptions {
  clients: LocalClients;
  deps: LocalDeps;
  /**
   * `zero`: every Wait and retry pause takes no time (tests), except a few milliseconds
   * between attempts to take a busy Auto Scaling group's turn. `real` (default): as defined.
   */
  waits?: 'zero' | 'real';
  /** Called for each event as it happens (progress on a terminal). */
  onEvent?: (event: RunEvent) => void;
  /** Awaited after every Task state, before the next state starts (invariant checks). */
  afterState?: (event: AfterStateEvent) => Promise<void> | void;
  faults?: Faults;
  /** Execution name; defaults to the one detection gives it (`<instance>-<fingerprint>-<attempt>`). */
  executionName?: string;
  /**
   * The execution's ARN (`$$.Execution.Id`): who holds its lease, its group lock and its claim
   * on the instance, so it must be unique per execution. Defaults to a new
   * {@link localExecutionArn} of the name.
   */
  executionArn?: string;
  /**
   * Sees every AWS call before it is sent, as the principal that would make it in AWS: the
   * steps' calls as `remediation-steps`, the definition's `aws-sdk` Tasks and its Lambda
   * invocations as `state-machine` (tests decide each against that role's IAM policy).
   */
  gate?: CallGate;
}

export type RunStatus = 'SUCCEEDED' | 'FAILED';

export interface RunResult {
  status: RunStatus;
  /** The Succeed output: `{ outcome, reason, detail, instanceId, fleet, replacementId?, notified }`. */
  output?: unknown;
  /** The Fail error and cause. */
  error?: string;
  cause?: string;
  executionArn: string;
  events: RunEvent[];
  /** States entered (what Step Functions bills as state transitions). */
  transitions: number;
  /** AWS API calls by `Service.Operation`, from SDK integrations and from the steps; `Lambda.Invoke` counts step invocations. */
  apiCalls: Record<string, number>;
  durationMs: number;
}

/** A problem with the definition or the run's configuration, not with the remediation. */
export class LocalRunnerError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalRunnerError';
  }
}

const ACCOUNT = '123456789012';
const STATE_MACHINE_NAME = 'phoenix-remediate-instance';

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

/** A thrown error with exactly the name and cause the interpreter should see. */
class StateError extends Error {
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

/**
 * A new ARN for one local execution named `name`:
 * `arn:aws:states:<region>:123456789012:execution:phoenix-remediate-instance/local-<uuid>:<name>`.
 *
 * The ARN is the execution's identity as a holder in the state table (leases, group locks,
 * instance claims). Step Functions makes it unique by refusing a name twice; locally nothing
 * does, and two processes (two `phoenix reconcile`, or one beside the deployed stack sharing
 * its table) start executions of the same name. So every local execution gets its own ARN,
 * however it is named, and the name stays the last part, as in Step Functions, for whatever
 * reads the name from the ARN (notifications, the standalone replacement's tag, quarantine
 * lift). See docs/adr/0021-one-replacement-per-instance.md.
 */
export function localExecutionArn(name: string, region = 'us-east-1'): string {
  return `arn:aws:states:${region}:${ACCOUNT}:execution:${STATE_MACHINE_NAME}/local-${randomUUID()}:${name}`;
}

/** The local ARN the definition's `${StepsFunctionArn}` becomes. */
export function localStepsFunctionArn(region = 'us-east-1'): string {
  return `arn:aws:lambda:${region}:${ACCOUNT}:function:phoenix-remediation-steps`;
}

/** The definition with its three substitutions applied; throws if any `${…}` is left. */
export function substitutedDefinition(values: {
  StepsFunctionArn: string;
  TableName: string;
  TopicArn: string;
}): StateMachineDefinition {
  let text = JSON.stringify(definitionJson);
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`\${${name}}`, value);
  const left = text.match(/\$\{[A-Za-z]+\}/);
  if (left !== null)
    throw new LocalRunnerError(`the state machine definition uses an unknown substitution ${left[0]}`);
  return JSON.parse(text) as StateMachineDefinition;
}

interface TaskInfo {
  resource: string;
  retries: boolean;
}

type StatesObject = Record<
  string,
  { Type: string; Resource?: string; Retry?: Array<{ ErrorEquals?: string[] }> } & Record<string, unknown>
>;

/**
 * With instant waits, the pause of a retry that waits for ANOTHER execution's turn on an
 * Auto Scaling group (`GroupBusyError`): long enough for the holder, running in the same
 * process, to make progress before the waiter spends its attempts; short enough for tests.
 */
const TURN_PAUSE_MS = 25;

/** Every state of the definition, nested ones (Map, Parallel) included. */
function walkStates(states: StatesObject, visit: (name: string, state: StatesObject[string]) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States?: StatesObject } | undefined;
    if (processor?.States !== undefined) walkStates(processor.States, visit);
    for (const branch of (state.Branches as { States?: StatesObject }[] | undefined) ?? []) {
      if (branch.States !== undefined) walkStates(branch.States, visit);
    }
  }
}

function counted<T extends Sender>(client: T, service: string, calls: Record<string, number>): T {
  const send = (command: { constructor: { name: string } }) => {
    const key = `${service}.${command.constructor.name.replace(/Command$/, '')}`;
    calls[key] = (calls[key] ?? 0) + 1;
    return client.send(command as never);
  };
  return { send } as unknown as T;
}

function withImpairment(
  ec2: LocalClients['ec2'],
  impaired: (instanceId: string) => boolean,
): LocalClients['ec2'] {
  const send = async (command: unknown) => {
    const output = await ec2.send(command as never);
    if (command instanceof ec2Sdk.DescribeInstanceStatusCommand) {
      const result = output as ec2Sdk.DescribeInstanceStatusCommandOutput;
      for (const status of result.InstanceStatuses ?? []) {
        if (status.InstanceId !== undefined && impaired(status.InstanceId)) {
          status.InstanceStatus = { ...status.InstanceStatus, Status: 'impaired' };
        }
      }
    }
    return output;
  };
  return { send } as unknown as LocalClients['ec2'];
}

function throttlingError(resource: string): StateError {
  if (resource === 'lambda')
    return new StateError('Lambda.TooManyRequestsException', 'Rate Exceeded. (injected fault)');
  const service = resource.split(':')[0] ?? '';
  const prefix = isServiceName(service) ? SERVICES[service].prefix : 'States';
  if (prefix === 'DynamoDb')
    return new StateError('DynamoDb.ThrottlingException', 'Rate exceeded (injected fault)');
  return new StateError(
    `${prefix}.${prefix}Exception`,
    'Rate exceeded (Service: throttling; injected fault)',
  );
}

/**
 * Runs one remediation to its end and reports how it ended, every event, the state
 * transitions and the AWS calls made. Never throws for a remediation that fails (that is a
 * `FAILED` result); throws {@link LocalRunnerError} when the definition cannot be run.
 */
export async function runRemediation(
  input: RemediationInput,
  options: RunRemediationOptions,
): Promise<RunResult> {
  const region = options.deps.region ?? 'us-east-1';
  const started = Date.now();
  const apiCalls: Record<string, number> = {};
  const events: RunEvent[] = [];
  const name =
    options.executionName ?? executionName(input.instanceId, input.fingerprint, input.attempt ?? 0);
  const executionArn = options.executionArn ?? localExecutionArn(name, region);
  const lambdaArn = localStepsFunctionArn(region);
  const clock = options.deps.clock ?? (() => new Date());

  const countedClients = (base: LocalClients): LocalClients => ({
    ec2: counted(base.ec2, 'EC2', apiCalls),
    autoScaling: counted(base.autoScaling, 'AutoScaling', apiCalls),
    elbv2: counted(base.elbv2, 'ELBv2', apiCalls),
    dynamodb: counted(base.dynamodb, 'DynamoDB', apiCalls),
    sns: counted(base.sns, 'SNS', apiCalls),
  });
  // In AWS the steps function and the state machine are different roles.
  const clients = countedClients(gateClients(options.clients, 'remediation-steps', options.gate));
  const taskClients = countedClients(gateClients(options.clients, 'state-machine', options.gate));
  const impaired = options.faults?.impaired;
  const stepDeps: StepDeps = {
    ec2:
      impaired === undefined
        ? clients.ec2
        : withImpairment(
            clients.ec2,
            impaired === 'replacement' ? (id) => id !== input.instanceId : impaired,
          ),
    autoScaling: clients.autoScaling,
    elbv2: clients.elbv2,
    store: new RemediationStore(clients.dynamodb, options.deps.tableName, clock),
    notifier: options.deps.notifier ?? new Notifier(clients.sns, options.deps.topicArn),
    desiredState: options.deps.desiredState,
    clock,
    consoleRegion: region,
  };

  const definition = substitutedDefinition({
    StepsFunctionArn: lambdaArn,
    TableName: options.deps.tableName,
    TopicArn: options.deps.topicArn,
  });

  const tasks = new Map<string, TaskInfo>();
  const waitStates: string[] = [];
  const zeroRetries: Record<string, number[]> = {};
  walkStates(definition.States as unknown as StatesObject, (stateName, state) => {
    if (state.Type === 'Task')
      tasks.set(stateName, { resource: state.Resource ?? '', retries: state.Retry !== undefined });
    if (state.Type === 'Wait') waitStates.push(stateName);
    if (Array.isArray(state.Retry)) {
      zeroRetries[stateName] = state.Retry.map((retrier) =>
        retrier.ErrorEquals?.includes('GroupBusyError') === true ? TURN_PAUSE_MS : 0,
      );
    }
  });

  const throttlesLeft = new Map(Object.entries(options.faults?.throttle ?? {}));
  for (const stateName of throttlesLeft.keys()) {
    if (!tasks.has(stateName))
      throw new LocalRunnerError(`cannot inject a fault into ${stateName}: no such Task state`);
  }

  const handlers: Record<string, (taskInput: unknown) => Promise<unknown>> = {};
  for (const [stateName, task] of tasks) {
    const kind = task.resource === lambdaArn ? 'lambda' : sdkTarget(task.resource);
    if (kind === undefined) {
      throw new LocalRunnerError(`state ${stateName}: resource ${task.resource} cannot run locally`);
    }
    const act =
      kind === 'lambda'
        ? lambdaTask(stepDeps, apiCalls, lambdaArn, options.gate)
        : sdkTask(kind.service, kind.action, taskClients);
    const resource: AfterStateEvent['resource'] =
      kind === 'lambda' ? 'lambda' : `${kind.service}:${kind.action}`;
    handlers[stateName] = async (taskInput) => {
      const left = throttlesLeft.get(stateName) ?? 0;
      let output: unknown;
      let failure: StateError | undefined;
      if (left > 0) {
        throttlesLeft.set(stateName, left - 1);
        failure = throttlingError(resource);
      } else {
        try {
          output = await act(taskInput);
        } catch (error) {
          failure = error instanceof StateError ? error : new StateError('States.TaskFailed', String(error));
        }
      }
      if (options.afterState !== undefined) {
        const after: AfterStateEvent = { state: stateName, resource, input: taskInput };
        if (failure === undefined) after.output = output;
        else after.error = failure.name;
        await options.afterState(after);
      }
      if (failure !== undefined) throw failure;
      return output;
    };
  }

  const zero = options.waits === 'zero';
  const machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides: zero ? Object.fromEntries(waitStates.map((s) => [s, 0])) : {},
      retryIntervalOverrides: zero ? zeroRetries : {},
    },
    context: {
      Execution: { Id: executionArn, Name: name, RoleArn: `arn:aws:iam::${ACCOUNT}:role/phoenix-local` },
    },
  });

  const logging = (async () => {
    for await (const raw of execution.eventLogs) {
      const event = toRunEvent(raw as unknown as RawEvent, input.instanceId, started);
      events.push(event);
      options.onEvent?.(event);
    }
  })();

  let result: RunResult;
  try {
    const output = await execution.result;
    result = { status: 'SUCCEEDED', output, executionArn, events, transitions: 0, apiCalls, durationMs: 0 };
  } catch (error) {
    if (!(error instanceof ExecutionError))
      throw new LocalRunnerError(`the local execution broke: ${String(error)}`, { cause: error });
    const cause = error.cause instanceof Error ? error.cause : undefined;
    result = {
      status: 'FAILED',
      error: cause?.name ?? 'States.Runtime',
      cause: cause?.message ?? error.message,
      executionArn,
      events,
      transitions: 0,
      apiCalls,
      durationMs: 0,
    };
  }
  await logging;
  result.transitions = events.filter((e) => e.type === 'StateEntered').length;
  result.durationMs = Date.now() - started;
  return result;
}

function sdkTarget(resource: string): { service: ServiceName; action: string } | undefined {
  const match = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(resource);
  if (match === null) return undefined;
  const [, service = '', action = ''] = match;
  return isServiceName(service) ? { service, action } : undefined;
}

function lambdaTask(
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

function sdkTask(service: ServiceName, action: string, clients: LocalClients) {
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

interface RawEvent {
  type: string;
  timestamp: number;
  state?: { name: string };
  index?: number;
  Error?: string;
  retry?: { attempt: number };
}

const KNOWN_TYPES: ReadonlySet<string> = new Set([
  'ExecutionStarted',
  'ExecutionSucceeded',
  'ExecutionFailed',
  'StateEntered',
  'StateExited',
  'StateFailed',
  'StateRetried',
  'StateCaught',
]);

function toRunEvent(raw: RawEvent, instanceId: string, started: number): RunEvent {
  const event: RunEvent = {
    type: KNOWN_TYPES.has(raw.type) ? (raw.type as RunEvent['type']) : 'Other',
    instanceId,
    at: raw.timestamp,
    elapsedMs: raw.timestamp - started,
  };
  if (raw.state !== undefined) event.state = raw.state.name;
  if (raw.index !== undefined) event.index = raw.index;
  if (raw.Error !== undefined) event.error = raw.Error;
  if (raw.retry !== undefined) event.attempt = raw.retry.attempt;
  return event;
}
