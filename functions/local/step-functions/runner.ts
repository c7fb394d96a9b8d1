/**
 * Runs the real remediation state machine (`state-machines/remediate-instance.asl.json`)
 * locally with `aws-local-stepfunctions`: the steps Lambda runs in-process, and every
 * `arn:aws:states:::aws-sdk:SERVICE:ACTION` task is the same AWS SDK v3 command sent to
 * whatever endpoint the given clients point at (the emulated account in tests, a real
 * account for `phoenix reconcile`). How each Task runs, and how its errors are named as Step
 * Functions names them, is `tasks.ts`; what the definition asks of a run, `definition.ts`.
 */
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { gateClients } from '../../aws/call-gate';
import { type NotificationPublisher, Notifier } from '../../aws/notifier';
import { RemediationStore } from '../../aws/remediation-store';
import { RolloutStore } from '../../aws/rollout-store';
import type { CompiledDesiredState } from '../../domain/model';
import { executionName } from '../../evaluate-drift/execution';
import type { RemediationInput } from '../../remediation/input';
import type { StepDeps } from '../../remediation/steps';
import { LocalRunnerError } from '../errors';
import type { LocalRunHooks } from '../hooks';
import { LOCAL_ACCOUNT, localExecutionArn, localStepsFunctionArn } from './arns';
import {
  callbackTask,
  FAST_PACING,
  LAMBDA_CALLBACK_RESOURCE,
  localCallbacks,
  REAL_PACING,
} from './callbacks';
import { shapeOf, substitutedDefinition } from './definition';
import { throttlingError, withImpairment } from './faults';
import { type AfterStateEvent, type RawEvent, type RunEvent, toRunEvent } from './run-events';
import { type LocalClients, lambdaTask, type Sender, StateError, sdkTarget, sdkTask } from './tasks';

/** What the steps need besides the clients (the runner builds the store and notifier over counted clients). */
export interface LocalDeps {
  desiredState: CompiledDesiredState;
  /** The state table (`${TableName}` in the definition). */
  tableName: string;
  /** The notification topic (`${TopicArn}`). */
  topicArn: string;
  /** Replaces the SNS notifier (e.g. to collect notifications in memory). */
  notifier?: NotificationPublisher;
  /** Region in notification console links and local ARNs (default us-east-1). */
  region?: string;
  /** Receives the steps' structured log lines (`rollout.stage`). */
  logger?: { info(message: string, extra: Record<string, unknown>): void };
}

export interface RunRemediationOptions {
  clients: LocalClients;
  deps: LocalDeps;
  /**
   * `zero`: every Wait and retry pause takes no time (an emulated account), except a few
   * milliseconds between attempts to take a busy Auto Scaling group's turn. `real` (default):
   * as defined.
   */
  waits?: 'zero' | 'real';
  /** Called for each event as it happens (progress on a terminal). */
  onEvent?: (event: RunEvent) => void;
  /** Execution name; defaults to the one detection gives it (`<instance>-<fingerprint>-<attempt>`). */
  executionName?: string;
  /**
   * The execution's ARN (`$$.Execution.Id`): who holds its lease, its group lock and its claim
   * on the instance, so it must be unique per execution. Defaults to a new
   * {@link localExecutionArn} of the name.
   */
  executionArn?: string;
  /**
   * With instant waits, awaited when the recheck decides to wait for the fleet's maintenance
   * window, with the time it opens: `WaitForWindow` takes no time here, so without this the
   * execution would go straight back to the recheck.
   */
  untilWindowOpens?: (opensAt: Date) => Promise<void>;
  /** Test-only levers (clock, faults, IAM gate, a hook after every Task); production passes none. */
  hooks?: LocalRunHooks;
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

function counted<T extends Sender>(client: T, service: string, calls: Record<string, number>): T {
  const send = (command: { constructor: { name: string } }) => {
    const key = `${service}.${command.constructor.name.replace(/Command$/, '')}`;
    calls[key] = (calls[key] ?? 0) + 1;
    return client.send(command as never);
  };
  return { send } as unknown as T;
}

/** The recheck's answer when the fleet's window is closed. */
function isWaitDecision(output: unknown): output is { decision: 'wait'; windowOpensAt: string } {
  if (typeof output !== 'object' || output === null) return false;
  const o = output as { decision?: unknown; windowOpensAt?: unknown };
  return o.decision === 'wait' && typeof o.windowOpensAt === 'string';
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
  const { hooks } = options;
  const region = options.deps.region ?? 'us-east-1';
  const started = Date.now();
  const apiCalls: Record<string, number> = {};
  const events: RunEvent[] = [];
  const name =
    options.executionName ?? executionName(input.instanceId, input.fingerprint, input.attempt ?? 0);
  const executionArn = options.executionArn ?? localExecutionArn(name, region);
  const lambdaArn = localStepsFunctionArn(region);
  const clock = hooks?.clock ?? (() => new Date());

  const countedClients = (base: LocalClients): LocalClients => ({
    ec2: counted(base.ec2, 'EC2', apiCalls),
    autoScaling: counted(base.autoScaling, 'AutoScaling', apiCalls),
    elbv2: counted(base.elbv2, 'ELBv2', apiCalls),
    dynamodb: counted(base.dynamodb, 'DynamoDB', apiCalls),
    sns: counted(base.sns, 'SNS', apiCalls),
    ...(base.cloudwatch === undefined
      ? {}
      : { cloudwatch: counted(base.cloudwatch, 'CloudWatch', apiCalls) }),
  });
  // In AWS the steps function and the state machine are different roles.
  const clients = countedClients(gateClients(options.clients, 'remediation-steps', hooks?.gate));
  const taskClients = countedClients(gateClients(options.clients, 'state-machine', hooks?.gate));
  const impaired = hooks?.faults?.impaired;
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
    rollouts: new RolloutStore(clients.dynamodb, options.deps.tableName, clock),
    ...(clients.cloudwatch === undefined ? {} : { cloudwatch: clients.cloudwatch }),
    ...(options.deps.logger === undefined ? {} : { logger: options.deps.logger }),
    callbacks: localCallbacks,
    desiredState: options.deps.desiredState,
    clock,
    consoleRegion: region,
  };

  const definition = substitutedDefinition({
    StepsFunctionArn: lambdaArn,
    TableName: options.deps.tableName,
    TopicArn: options.deps.topicArn,
  });
  const { tasks, waitStates, zeroRetries } = shapeOf(definition);

  const throttlesLeft = new Map(Object.entries(hooks?.faults?.throttle ?? {}));
  for (const stateName of throttlesLeft.keys()) {
    if (!tasks.has(stateName))
      throw new LocalRunnerError(`cannot inject a fault into ${stateName}: no such Task state`);
  }

  const handlers: Record<string, (taskInput: unknown) => Promise<unknown>> = {};
  for (const [stateName, taskResource] of tasks) {
    const kind =
      taskResource === lambdaArn
        ? 'lambda'
        : taskResource === LAMBDA_CALLBACK_RESOURCE
          ? 'callback'
          : sdkTarget(taskResource);
    if (kind === undefined) {
      throw new LocalRunnerError(`state ${stateName}: resource ${taskResource} cannot run locally`);
    }
    const act =
      kind === 'lambda'
        ? lambdaTask(stepDeps, apiCalls, lambdaArn, hooks?.gate)
        : kind === 'callback'
          ? callbackTask({
              executionArn,
              deps: stepDeps,
              invoke: lambdaTask(stepDeps, apiCalls, lambdaArn, hooks?.gate),
              pacing: options.waits === 'zero' ? FAST_PACING : REAL_PACING,
              table: { client: options.clients.dynamodb, name: options.deps.tableName },
            })
          : sdkTask(kind.service, kind.action, taskClients);
    const resource: AfterStateEvent['resource'] =
      kind === 'lambda' || kind === 'callback' ? 'lambda' : `${kind.service}:${kind.action}`;
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
      if (
        options.untilWindowOpens !== undefined &&
        stateName === 'Recheck' &&
        failure === undefined &&
        isWaitDecision(output)
      ) {
        await options.untilWindowOpens(new Date(output.windowOpensAt));
      }
      if (hooks?.afterState !== undefined) {
        const after: AfterStateEvent = {
          state: stateName,
          resource,
          instanceId: input.instanceId,
          fleet: input.fleet,
          input: taskInput,
        };
        if (failure === undefined) after.output = output;
        else after.error = failure.name;
        await hooks.afterState(after);
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
      Execution: {
        Id: executionArn,
        Name: name,
        RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/phoenix-local`,
      },
      // Each entry of a callback task gets its own token from the task's handler (callbacks.ts).
      Task: { Token: 'local' },
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
