/**
 * The evaluator wired to the emulated account for integration tests: real EC2, Auto Scaling,
 * DynamoDB (state table) and SNS (with an SQS queue subscribed, to read notifications);
 * Config and Step Functions mocked where the emulator cannot go (moto takes PutEvaluations
 * only in TestMode, and its Step Functions cannot run ours) — see EMULATOR.md.
 */
import { ConfigServiceClient, PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { SFNClient, StartExecutionCommand, type StartExecutionCommandInput } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { atomicDynamoDB, createStateTable } from '../../emulator/table';
import type { PhoenixClients } from '../../functions/aws/clients';
import { ComplianceLedger } from '../../functions/aws/compliance-ledger';
import { Notifier } from '../../functions/aws/notifier';
import { StateStore } from '../../functions/aws/state-store';
import type { CompiledDesiredState } from '../../functions/domain/model';
import type { PhoenixNotification } from '../../functions/domain/notification';
import type { DetectionDeps } from '../../functions/evaluate-drift/core';
import { RecordingLogger, RecordingMetrics, STATE_MACHINE_ARN } from './harness';

export interface ReceivedNotification {
  body: PhoenixNotification;
  subject: string | undefined;
  attributes: Record<string, string | undefined>;
}

/** Builds the evaluator's dependencies over the emulated account. */
export async function emulatedDetection(clients: PhoenixClients, desiredState: CompiledDesiredState) {
  const table = await createStateTable(clients.dynamodb, 'phoenix-state');
  const store = new StateStore(atomicDynamoDB(clients.dynamodb), table);
  // As deployed: the sweep reports only what Config does not already hold.
  const ledger = new ComplianceLedger(atomicDynamoDB(clients.dynamodb), table, () => new Date());

  const topic = await clients.sns.send(new CreateTopicCommand({ Name: 'phoenix-notifications' }));
  const topicArn = topic.TopicArn ?? '';
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'team-inbox' }));
  const queueUrl = queue.QueueUrl ?? '';
  const queueAttributes = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  // Not raw: the SNS envelope carries the subject, which raw delivery drops.
  await clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueAttributes.Attributes?.QueueArn ?? '',
    }),
  );

  const configClient = new ConfigServiceClient({ region: 'us-east-1' });
  const config = mockClient(configClient);
  config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });

  // Step Functions semantics that matter here: a name is used once (ExecutionAlreadyExists).
  const sfnClient = new SFNClient({ region: 'us-east-1' });
  const sfn = mockClient(sfnClient);
  const started: { name: string; input: Record<string, unknown> }[] = [];
  sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
    const name = input.name ?? '';
    if (started.some((s) => s.name === name)) {
      throw Object.assign(new Error(`Execution Already Exists: '${name}'`), {
        name: 'ExecutionAlreadyExists',
      });
    }
    started.push({ name, input: JSON.parse(input.input ?? '{}') as Record<string, unknown> });
    return {
      executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
      startDate: new Date(),
    };
  });

  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const deps: DetectionDeps = {
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    config: configClient,
    sfn: sfnClient,
    store,
    ledger,
    notifier: new Notifier(clients.sns, topicArn),
    desiredState,
    stateMachineArn: STATE_MACHINE_ARN,
    clock: () => new Date(),
    logger,
    metrics,
  };

  /** Reads and deletes every message now in the team's queue. */
  async function drainNotifications(): Promise<ReceivedNotification[]> {
    const received: ReceivedNotification[] = [];
    for (;;) {
      const page = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = page.Messages ?? [];
      if (messages.length === 0) return received;
      for (const message of messages) {
        const envelope = JSON.parse(message.Body ?? '{}') as {
          Message: string;
          Subject?: string;
          MessageAttributes?: Record<string, { Value?: string }>;
        };
        received.push({
          body: JSON.parse(envelope.Message) as PhoenixNotification,
          subject: envelope.Subject,
          attributes: Object.fromEntries(
            Object.entries(envelope.MessageAttributes ?? {}).map(([name, value]) => [name, value.Value]),
          ),
        });
        await clients.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    }
  }

  return {
    deps,
    store,
    ledger,
    config,
    started,
    logger,
    metrics,
    drainNotifications,
    /** Evaluations sent to Config, one entry per evaluation, in order. */
    sent: () =>
      config
        .commandCalls(PutEvaluationsCommand)
        .flatMap((call) => call.args[0].input.Evaluations ?? [])
        .map((e) => ({ id: e.ComplianceResourceId ?? '', compliance: e.ComplianceType ?? '' })),
    /** Every evaluation sent to Config, by instance id (the last one wins). */
    evaluations: () =>
      Object.fromEntries(
        config
          .commandCalls(PutEvaluationsCommand)
          .flatMap((call) => call.args[0].input.Evaluations ?? [])
          .map((e) => [e.ComplianceResourceId ?? '', e.ComplianceType ?? '']),
      ),
  };
}
