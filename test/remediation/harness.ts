/**
 * The emulated account a remediation test runs in: a fleet seeded in moto, the state table,
 * an SNS topic with an SQS queue subscribed (so tests read the notifications a team would
 * get), the desired state compiled from YAML, and the execution input detection would build.
 */
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { PhoenixClients } from '../../functions/aws/clients';
import { describeInstances, resolveLaunchTemplate } from '../../functions/aws/inventory';
import { healthyFloor } from '../../functions/aws/state-store';
import { evaluateDrift } from '../../functions/domain/drift/engine';
import type { CompiledDesiredState } from '../../functions/domain/model';
import type { PhoenixNotification } from '../../functions/domain/notification';
import type { LocalRunHooks } from '../../functions/local/hooks';
import {
  type LocalDeps,
  type RunRemediationOptions,
  type RunResult,
  runRemediation,
} from '../../functions/local/step-functions/runner';
import { type RemediationInput, remediationInputFor, type Timings } from '../../functions/remediation/input';
import { compileYaml, emulatedAccount } from '../helpers/account';
import { TEST_REGION } from '../helpers/emulator';
import { type IamGateOptions, iamGate } from '../helpers/iam/gate';
import type { IamProps } from '../helpers/iam/synthesized-policies';

export { describeGroup, healthyServing, targetsOf } from '../../emulator/account';

/** Waits and bounds for tests: the runner zeroes the waits, these bound the loops. */
export const TEST_TIMINGS: Timings = {
  healthCheckIntervalSeconds: 0,
  healthCheckMaxAttempts: 3,
  maxDrainSeconds: 5,
  leaseTtlSeconds: 3600,
};

let accounts = 0;

/** One test's account: clients, table, topic, queue and a clock the test can move. */
export async function testAccount(options: { start?: Date } = {}) {
  accounts += 1;
  const account = await emulatedAccount({
    tableName: `phoenix-remediation-${accounts}`,
    start: options.start,
  });
  const { clients, tableName, clock } = account;
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: `phoenix-notifications-${accounts}` }));
  const topicArn = topic.TopicArn ?? '';
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: `team-inbox-${accounts}` }));
  const queueUrl = queue.QueueUrl ?? '';
  const attributes = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  await clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: attributes.Attributes?.QueueArn ?? '',
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  const deps = (desiredState: CompiledDesiredState): LocalDeps => ({ desiredState, tableName, topicArn });
  /** The test hooks of a run on this account: its clock (the test moves it), and `extra`. */
  const hooks = (extra: LocalRunHooks = {}): LocalRunHooks => ({ clock: () => clock.now, ...extra });
  return {
    ...account,
    topicArn,
    queueUrl,
    deps,
    hooks,
    /** The execution input detection would build for `instanceId` at the account's now. */
    inputFor: (state: CompiledDesiredState, instanceId: string, timings?: Partial<Timings>) =>
      remediationInput(clients, state, instanceId, clock.now, timings),
    /**
     * Runs `input` through the real state machine on this account under `state`, every wait
     * instant, on the account's clock, every AWS call decided by IAM against the policies
     * synthesized for `state` (`iam` changes the DriftRemediator's props, e.g. instance roles;
     * `withoutGrant` takes one action out of one role's policy). `options.hooks` adds to these.
     */
    remediate: async (
      input: RemediationInput,
      state: CompiledDesiredState,
      options: Omit<RunRemediationOptions, 'clients' | 'deps'> &
        Pick<IamGateOptions, 'withoutGrant'> & { iam?: IamProps } = {},
    ): Promise<RunResult> => {
      const { iam, withoutGrant, hooks: extra, ...rest } = options;
      const gate = await iamGate({
        desiredState: state,
        names: { region: TEST_REGION, tableName, topicArn },
        clients,
        ...(iam === undefined ? {} : { props: iam }),
        ...(withoutGrant === undefined ? {} : { withoutGrant }),
      });
      return runRemediation(input, {
        clients: account.local,
        deps: deps(state),
        waits: 'zero',
        ...rest,
        hooks: hooks({ gate, ...extra }),
      });
    },
    /** Every notification delivered so far (and consumes them). */
    notifications: () => drainQueue(clients, queueUrl),
  };
}

export type TestAccount = Awaited<ReturnType<typeof testAccount>>;

async function drainQueue(clients: PhoenixClients, queueUrl: string): Promise<PhoenixNotification[]> {
  const received: PhoenixNotification[] = [];
  for (;;) {
    const page = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = page.Messages ?? [];
    if (messages.length === 0) return received;
    for (const message of messages) {
      received.push(JSON.parse(message.Body ?? '{}') as PhoenixNotification);
      await clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
}

/** Compiles a desired-state YAML text as synth would. */
export function desiredState(yaml: string): CompiledDesiredState {
  return compileYaml(yaml, { commit: 'abc1234', sha256: 'a'.repeat(64) });
}

/** The execution input detection would build for `instanceId` now. */
export async function remediationInput(
  clients: PhoenixClients,
  state: CompiledDesiredState,
  instanceId: string,
  now: Date,
  timings: Partial<Timings> = TEST_TIMINGS,
): Promise<RemediationInput> {
  const [instance] = await describeInstances(clients.ec2, [instanceId]);
  if (instance === undefined) throw new Error(`no instance ${instanceId}`);
  const fleet = state.fleets.find((f) =>
    f.match.kind === 'autoScalingGroup'
      ? instance.tags['aws:autoscaling:groupName'] === f.match.autoScalingGroup
      : Object.entries(f.match.tags).every(([k, v]) => instance.tags[k] === v),
  );
  if (fleet === undefined) throw new Error(`no fleet selects ${instanceId}`);
  const template = await resolveLaunchTemplate(clients.ec2, fleet.launchTemplate);
  const verdict = evaluateDrift({ instance, fleet, template, now });
  if (verdict.status !== 'drifted') throw new Error(`${instanceId} is ${verdict.status}, not drifted`);
  return remediationInputFor({
    instanceId,
    verdict,
    template,
    desiredState: state,
    detectedAt: now,
    trigger: 'test',
    timings,
  });
}

export { seedDriftedAsgFleet, seedDriftedStandaloneFleet } from '../../emulator/seed';

export { healthyFloor };

/** The desired state of specs that run one step with faked dependencies (no account). */
export const STEP_SPEC_STATE: CompiledDesiredState = desiredState(`
version: 1
defaults: { mode: enforce }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    team: web
`);

/** An execution input of {@link STEP_SPEC_STATE}'s fleet, as detection builds it. */
export const STEP_SPEC_INPUT: RemediationInput = {
  requestVersion: 1,
  instanceId: 'i-0123456789abcdef0',
  fleet: 'web',
  fingerprint: 'v1-aaaaaaaaaaaaaaaaaaaaaaaa',
  reasons: [
    { kind: 'image', field: 'imageId', expected: 'ami-2', actual: 'ami-1', source: 'launch-template' },
  ],
  desiredState: { revision: 'aaaaaaaaaaaa', commit: 'abc1234' },
  launchTemplate: { id: 'lt-0123456789abcdef0', name: 'web-lt', version: 2 },
  detectedAt: '2025-06-15T12:00:00.000Z',
  trigger: 'test',
};

/** Prints the figures of a run (state transitions, API calls by operation) in the test output. */
export function printFigures(
  title: string,
  result: { transitions: number; apiCalls: Record<string, number> },
): void {
  const calls = Object.entries(result.apiCalls).sort(([a], [b]) => a.localeCompare(b));
  const total = calls.reduce((sum, [, n]) => sum + n, 0);
  console.log(
    [
      `── ${title}`,
      `   state transitions: ${result.transitions}`,
      `   AWS API calls: ${total}`,
      ...calls.map(([op, n]) => `     ${op.padEnd(44)} ${n}`),
    ].join('\n'),
  );
}

/** API operations that change something; a skipped remediation makes none of them. */
export const MUTATING_OPERATIONS = [
  'EC2.RunInstances',
  'EC2.TerminateInstances',
  'EC2.CreateTags',
  'AutoScaling.SetDesiredCapacity',
  'AutoScaling.DetachInstances',
  'AutoScaling.AttachInstances',
  'AutoScaling.TerminateInstanceInAutoScalingGroup',
  'AutoScaling.EnterStandby',
  'AutoScaling.ExitStandby',
  'ELBv2.RegisterTargets',
  'ELBv2.DeregisterTargets',
] as const;

/** The mutating calls a run made, by operation. */
export function mutatingCalls(apiCalls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(apiCalls).filter(([op]) => (MUTATING_OPERATIONS as readonly string[]).includes(op)),
  );
}
