/**
 * The DriftRemediator, resource by resource, as CloudFormation will receive it: fine-grained
 * assertions on the synthesized template (and one snapshot, asset hashes stripped, to
 * notice any change at all).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '../../functions/evaluate-drift/core';
import { METRIC_NAMESPACE, PhoenixMetric, PhoenixService } from '../../functions/runtime/metric-names';
import { INSTANCE_API_CALLS, LAUNCH_TEMPLATE_CALLS } from '../../infra/parts/detection-rules';
import { ROLLOUT_STAGE_QUERY } from '../../infra/parts/monitoring';
import { resolve } from './helpers/iam';
import { logicalIdOf, resourcesOfType, type Synthesized, synthesize } from './helpers/synth';

let s: Synthesized;
let t: Template;
const id = (construct: { node: { defaultChild?: unknown } }) => logicalIdOf(s.stack, construct);
const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: id(construct) });
const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [id(construct), 'Arn'] });

beforeAll(async () => {
  s = await synthesize();
  t = s.template;
});

/** An alarm on a Phoenix metric, paging the topic. Alarms cannot SEARCH: a Metrics Insights query FROM the namespace sums every dimension set. */
function insightsAlarmOn(x: Synthesized, metricName: string, threshold: number, period: number): void {
  x.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Metrics: [
      Match.objectLike({
        Expression: `SELECT SUM(${metricName}) FROM "${METRIC_NAMESPACE}"`,
        Period: period,
        ReturnData: true,
      }),
    ],
    Threshold: threshold,
    EvaluationPeriods: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: logicalIdOf(x.stack, x.remediator.topic) }],
  });
}

describe('functions', () => {
  it.each([
    ['evaluator', () => s.remediator.evaluator, PhoenixService.evaluator, 512, 300],
    ['remediation steps', () => s.remediator.remediationSteps, PhoenixService.remediation, 256, 60],
  ])(
    'the %s runs Node.js 24 on arm64, traced, with its configuration',
    (_name, fn, service, memory, timeout) => {
      const f = fn();
      t.hasResourceProperties('AWS::Lambda::Function', {
        Role: arnOf(f.role),
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: memory,
        Timeout: timeout,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: ref(f.logGroup) },
        Description: Match.stringLikeRegexp(`Desired state ${s.desiredState.revision} `),
        Environment: {
          Variables: {
            PHOENIX_TABLE_NAME: ref(s.remediator.table),
            PHOENIX_TOPIC_ARN: ref(s.remediator.topic),
            PHOENIX_STATE_MACHINE_ARN: Match.anyValue(),
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: service,
            POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
            LOG_LEVEL: 'INFO',
            PHOENIX_DESIRED_STATE_REVISION: s.desiredState.revision,
          },
        },
      });
    },
  );

  it('points PHOENIX_STATE_MACHINE_ARN at the deployed state machine', () => {
    const [, evaluator] =
      resourcesOfType(s.json, 'AWS::Lambda::Function').find(
        ([lid]) => lid === id(s.remediator.evaluator.function),
      ) ?? [];
    const environment = evaluator?.Properties?.Environment as
      | { Variables: Record<string, unknown> }
      | undefined;
    const variables = environment?.Variables ?? {};
    const [, machine] = resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    expect(resolve(variables.PHOENIX_STATE_MACHINE_ARN)).toBe(
      `arn:aws:states:eu-central-1:123456789012:stateMachine:${String(machine?.Properties?.StateMachineName)}`,
    );
  });

  it('keep every log for three months in their own log groups', () => {
    t.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 4);
    t.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  it('are invoked through a live alias on the version built from this desired state', () => {
    for (const f of [s.remediator.evaluator, s.remediator.remediationSteps]) {
      t.hasResourceProperties('AWS::Lambda::Alias', {
        Name: 'live',
        FunctionName: ref(f.function),
        // The version's logical id carries a hash of the code: a new bundle is a new version.
        FunctionVersion: {
          'Fn::GetAtt': [Match.stringLikeRegexp(`^${id(f.function).slice(0, -8)}CurrentVersion`), 'Version'],
        },
      });
    }
  });

  it('send asynchronous evaluator invocations that fail every retry to a dead-letter queue', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Role: arnOf(s.remediator.evaluator.role),
      DeadLetterConfig: { TargetArn: arnOf(s.remediator.invocationFailures) },
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(s.remediator.evaluator.function),
      // The alias name, selected out of the alias ARN.
      Qualifier: { 'Fn::Select': [7, { 'Fn::Split': [':', ref(s.remediator.evaluator.live)] }] },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(s.remediator.invocationFailures) } },
    });
    t.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
  });
});

describe('detection', () => {
  it('is an AWS Config custom Lambda rule on EC2 instances, change-triggered and periodic', () => {
    t.hasResourceProperties('AWS::Config::ConfigRule', {
      Scope: { ComplianceResourceTypes: ['AWS::EC2::Instance'] },
      MaximumExecutionFrequency: 'Twelve_Hours',
      Source: {
        Owner: 'CUSTOM_LAMBDA',
        SourceIdentifier: ref(s.remediator.evaluator.live),
        SourceDetails: [
          { EventSource: 'aws.config', MessageType: 'ConfigurationItemChangeNotification' },
          { EventSource: 'aws.config', MessageType: 'OversizedConfigurationItemChangeNotification' },
          {
            EventSource: 'aws.config',
            MessageType: 'ScheduledNotification',
            MaximumExecutionFrequency: 'Twelve_Hours',
          },
        ],
      },
    });
  });

  it('lets Config of this account invoke the evaluator, before the rule is created', () => {
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: ref(s.remediator.evaluator.live),
      Principal: 'config.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    const [permissionId] =
      resourcesOfType(s.json, 'AWS::Lambda::Permission').find(
        ([, p]) => p.Properties?.Principal === 'config.amazonaws.com',
      ) ?? [];
    t.hasResource('AWS::Config::ConfigRule', { DependsOn: Match.arrayWith([permissionId]) });
  });

  const target = () => ({
    Arn: ref(s.remediator.evaluator.live),
    DeadLetterConfig: { Arn: arnOf(s.remediator.eventDeliveryFailures) },
    RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
  });

  it.each([
    ['instance API calls (CloudTrail fast path)', INSTANCE_API_CALLS],
    ['launch template changes', LAUNCH_TEMPLATE_CALLS],
  ])('routes successful %s to the evaluator, with retries and a dead-letter queue', (_what, calls) => {
    t.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['ec2.amazonaws.com'], eventName: [...calls], errorCode: [{ exists: false }] },
      },
      Targets: [Match.objectLike(target())],
    });
  });

  it('routes instances entering running to the evaluator', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['running'] },
      },
      Targets: [Match.objectLike(target())],
    });
    // Three detection rules and the fleet queue's sweep.
    t.resourceCountIs('AWS::Events::Rule', 4);
    t.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'events.amazonaws.com', FunctionName: ref(s.remediator.evaluator.live) },
      3,
    );
  });

  it('sweeps the fleet queues every five minutes: one constant event to the steps function, failures to the dead-letter queue', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: ref(s.remediator.remediationSteps.live),
          Input: JSON.stringify({ sweep: 'queues' }),
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        }),
      ],
    });
    // Only that rule may invoke the steps function from EventBridge.
    t.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'events.amazonaws.com', FunctionName: ref(s.remediator.remediationSteps.live) },
      1,
    );
  });

  it('lets EventBridge, and only the rules that target it, fill the event dead-letter queue', () => {
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(s.remediator.eventDeliveryFailures)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });
});

describe('the remediate-instance state machine', () => {
  it('is a Standard workflow logging every event to its log group, traced with X-Ray', () => {
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: s.remediator.stateMachineName,
      DefinitionS3Location: Match.objectLike({ Key: Match.stringLikeRegexp('\\.json$') }),
      DefinitionSubstitutions: Match.objectLike({
        StepsFunctionArn: ref(s.remediator.remediationSteps.live),
      }),
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('logs to a log group under /aws/vendedlogs/, which needs no statement in the account log resource policy', () => {
    const name = `/aws/vendedlogs/states/${s.remediator.stateMachineName}`;
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: name });
    const [[logGroupId] = []] = Object.entries(
      t.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: name } }),
    );
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] } } }],
      }),
    });
  });
});

describe('state', () => {
  it('is one on-demand table with pk/sk, point-in-time recovery, TTL on expiresAt and encryption', () => {
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('notifications', () => {
  it('go to a topic encrypted with a rotating customer-managed key', () => {
    t.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: arnOf(s.remediator.topic.masterKey ?? s.remediator.topic),
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
  });

  it("refuse publishing without TLS, and accept this account's alarms", () => {
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(s.remediator.topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  it('have no subscriptions unless asked for', () => {
    t.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('dead-letter queues', () => {
  it('are encrypted, TLS-only and keep messages for 14 days', () => {
    for (const queue of [s.remediator.eventDeliveryFailures, s.remediator.invocationFailures]) {
      t.hasResource('AWS::SQS::Queue', {
        DeletionPolicy: 'Retain',
        Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 },
      });
      t.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(queue)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });
});

describe('alarms', () => {
  const alarmOn = (namespace: string, metricName: string, statistic: string) =>
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: namespace,
      MetricName: metricName,
      Statistic: statistic,
      Threshold: 1,
      Period: 300,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(s.remediator.topic)],
    });

  it.each([
    ['failed executions', 'AWS/States', 'ExecutionsFailed', 'Sum'],
    ['timed-out executions', 'AWS/States', 'ExecutionsTimedOut', 'Sum'],
    ['function errors', 'AWS/Lambda', 'Errors', 'Sum'],
    ['dead-letter queue depth', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'Maximum'],
  ])('page the topic on %s', (_what, namespace, metric, statistic) => {
    alarmOn(namespace, metric, statistic);
  });

  it('watch each function and each dead-letter queue', () => {
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'Errors' }, 2);
    t.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'ApproximateNumberOfMessagesVisible' },
      2,
    );
    t.resourceCountIs('AWS::CloudWatch::Alarm', 8);
  });

  it.each([
    ['events the evaluator cannot understand', PhoenixMetric.MalformedEvents],
    ['instances the evaluator could not judge or act on', PhoenixMetric.DetectionFailures],
  ])('page the topic on %s, whatever dimensions the metric carries', (_what, metricName) => {
    insightsAlarmOn(s, metricName, 1, 300);
  });

  it('watch the very metrics the evaluator emits for malformed events and detection failures', () => {
    expect(PhoenixMetric.MalformedEvents).toBe(METRIC.malformedEvents);
    expect(PhoenixMetric.DetectionFailures).toBe(METRIC.failures);
  });
});

describe('the dashboard', () => {
  it('graphs detections, outcomes, time to remediate and budget blocks from the metrics the code emits', () => {
    const [, dashboard] = resourcesOfType(s.json, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    for (const metric of Object.values(PhoenixMetric)) {
      expect(body).toContain(
        `Namespace=\\\\\\"${METRIC_NAMESPACE}\\\\\\" MetricName=\\\\\\"${metric}\\\\\\"`,
      );
    }
    for (const title of ['Detections', 'Remediations by outcome', 'Time to remediate', 'Budget blocks']) {
      expect(body).toContain(title);
    }
  });

  it("shows each fleet's latest rollout stage: a Logs Insights table over the steps' and the evaluator's logs", () => {
    const [, dashboard] = resourcesOfType(s.json, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    // The body is a Fn::Join of text and the log groups' Refs: read it with each Ref named.
    const joined = dashboard?.Properties?.DashboardBody as { 'Fn::Join': [string, unknown[]] } | undefined;
    const parts = joined?.['Fn::Join'][1] ?? [];
    const text = parts
      .map((part) => {
        if (typeof part === 'string') return part;
        const token = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
        return `<${token.Ref ?? token['Fn::GetAtt']?.join('.') ?? '?'}>`;
      })
      .join('');
    const body = JSON.parse(text) as {
      widgets: Array<{
        type: string;
        width: number;
        properties: { title?: string; query?: string; view?: string };
      }>;
    };
    const logs = body.widgets.filter((w) => w.type === 'log');
    expect(logs).toHaveLength(1);
    const widget = logs[0];
    expect(widget?.properties.view).toBe('table');
    expect(widget?.width).toBe(24);
    const steps = id(s.remediator.remediationSteps.logGroup);
    const evaluator = id(s.remediator.evaluator.logGroup);
    expect(widget?.properties.query).toBe(
      `SOURCE '<${steps}>' | SOURCE '<${evaluator}>' | ${ROLLOUT_STAGE_QUERY.join('\n| ')}`,
    );
    expect(widget?.properties.query).toContain('\n| filter event = "rollout.stage"\n');
    expect(widget?.properties.query).toContain('| stats latest(stage) as stage');
    expect(widget?.properties.query).toMatch(/ by fleet\n\| sort fleet asc$/);
  });
});

describe('the baseline sweep', () => {
  it('starts the Config rule evaluation, keyed by the desired state sha256, once the evaluator is live', () => {
    t.hasResource('Custom::PhoenixBaselineSweep', {
      DependsOn: Match.arrayWith([id(s.remediator.evaluator.live)]),
      Properties: {
        DesiredStateSha256: s.desiredState.provenance.sha256,
        Create: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('StartConfigRulesEvaluation')])],
        }),
        Update: Match.objectLike({
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('StartConfigRulesEvaluation')])],
        }),
      },
    });
  });

  it('changes (so CloudFormation runs it again) exactly when the desired state changes', async () => {
    const sweepOf = (x: Synthesized) =>
      resourcesOfType(x.json, 'Custom::PhoenixBaselineSweep')[0]?.[1]?.Properties;
    const same = await synthesize();
    const changed = await synthesize({ fixture: 'pinned.yaml' });
    expect(sweepOf(same)).toEqual(sweepOf(s));
    expect(sweepOf(changed)?.DesiredStateSha256).not.toBe(sweepOf(s)?.DesiredStateSha256);
    expect(sweepOf(changed)?.Update).not.toEqual(sweepOf(s)?.Update);
  });

  it('may start the evaluation of its rule only', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'config:StartConfigRulesEvaluation',
            Resource: { 'Fn::GetAtt': [s.stack.getLogicalId(s.remediator.detection.configRule), 'Arn'] },
          },
        ],
      },
    });
  });
});

describe('outputs', () => {
  it.each([
    ['TopicArn', () => ref(s.remediator.topic)],
    ['TableName', () => ref(s.remediator.table)],
    ['StateMachineArn', () => ref(s.remediator.stateMachine)],
  ])('include %s', (name, value) => {
    const [, output] =
      Object.entries(s.json.Outputs ?? {}).find(([key]) => key.startsWith(`Phoenix${name}`)) ?? [];
    expect(output?.Value).toEqual(value());
  });

  it('include the dashboard URL and the pause command', () => {
    const outputs = Object.entries(s.json.Outputs ?? {});
    const value = (prefix: string) => resolve(outputs.find(([key]) => key.startsWith(prefix))?.[1].Value);
    expect(value('PhoenixDashboardUrl')).toMatch(
      /^https:\/\/eu-central-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=eu-central-1#dashboards:name=.+/,
    );
    expect(value('PhoenixPauseCommand')).toBe(
      `npx phoenix pause --table <${id(s.remediator.table)}> --region eu-central-1`,
    );
  });
});

describe('by default', () => {
  it('creates no Config recorder (most accounts have one)', () => {
    t.resourceCountIs('AWS::Config::ConfigurationRecorder', 0);
    t.resourceCountIs('AWS::Config::DeliveryChannel', 0);
  });
});

describe('with every option', () => {
  let o: Synthesized;
  beforeAll(async () => {
    o = await synthesize({
      props: {
        createConfigRecorder: true,
        subscriptions: [
          { protocol: 'email', endpoint: 'web-oncall@example.com', teams: ['web'] },
          { protocol: 'sqs', endpoint: 'arn:aws:sqs:eu-central-1:123456789012:data-inbox', teams: ['data'] },
          {
            protocol: 'https',
            endpoint: 'https://hooks.example.com/phoenix',
            events: ['remediation.failed', 'manual-action-required'],
          },
        ],
        removalPolicy: RemovalPolicy.DESTROY,
        logRetention: RetentionDays.ONE_WEEK,
        sweepFrequency: 'Six_Hours',
        alarmThresholds: { functionErrors: 5, detectionFailures: 3, period: Duration.minutes(15) },
        instanceRoleArns: ['arn:aws:iam::123456789012:role/reporting-instance'],
        logLevel: 'DEBUG',
      },
    });
  });

  it('records EC2 instances with its own Config recorder and delivery channel, before the rule', () => {
    o.template.hasResourceProperties('AWS::Config::ConfigurationRecorder', {
      RecordingGroup: {
        AllSupported: false,
        IncludeGlobalResourceTypes: false,
        ResourceTypes: ['AWS::EC2::Instance'],
        RecordingStrategy: { UseOnly: 'INCLUSION_BY_RESOURCE_TYPES' },
      },
    });
    o.template.hasResourceProperties('AWS::Config::DeliveryChannel', { S3BucketName: Match.anyValue() });
    const [recorderId] = resourcesOfType(o.json, 'AWS::Config::ConfigurationRecorder')[0] ?? [];
    const [channelId] = resourcesOfType(o.json, 'AWS::Config::DeliveryChannel')[0] ?? [];
    for (const dependency of [recorderId, channelId]) {
      o.template.hasResource('AWS::Config::ConfigRule', { DependsOn: Match.arrayWith([dependency]) });
    }
    o.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.anyValue(),
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    o.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'config.amazonaws.com' }, Action: 's3:PutObject' }),
        ]),
      },
    });
  });

  it('subscribes each team with a filter policy, and keeps what SNS cannot deliver', () => {
    const redrive = { deadLetterTargetArn: Match.anyValue() };
    o.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'web-oncall@example.com',
      FilterPolicy: { team: ['web'] },
      RedrivePolicy: redrive,
    });
    o.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      FilterPolicy: { team: ['data'] },
      RawMessageDelivery: true,
      RedrivePolicy: redrive,
    });
    o.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'https',
      FilterPolicy: { event: ['remediation.failed', 'manual-action-required'] },
      RedrivePolicy: redrive,
    });
    o.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: logicalIdOf(o.stack, o.remediator.topic) } } },
          }),
        ]),
      },
    });
    o.template.resourceCountIs('AWS::CloudWatch::Alarm', 9);
  });

  it('applies the removal policy, retention, sweep frequency, thresholds and log level', () => {
    o.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    o.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    // Config's history is kept whatever the policy (CloudFormation cannot delete a non-empty bucket).
    o.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    o.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    o.template.hasResourceProperties('AWS::Config::ConfigRule', { MaximumExecutionFrequency: 'Six_Hours' });
    o.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Threshold: 5,
      Period: 900,
    });
    insightsAlarmOn(o, PhoenixMetric.DetectionFailures, 3, 900);
    insightsAlarmOn(o, PhoenixMetric.MalformedEvents, 1, 900);
    o.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LOG_LEVEL: 'DEBUG' }) },
    });
  });

  it('may pass the declared instance roles to EC2, and only to EC2', () => {
    o.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: 'iam:PassRole',
            Resource: 'arn:aws:iam::123456789012:role/reporting-instance',
            Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
          },
        ]),
      },
    });
  });
});

describe('the whole template', () => {
  it('matches the snapshot (asset hashes stripped)', () => {
    const stripped = JSON.stringify(s.json, null, 1)
      .replace(/[0-9a-f]{64}(\.json|\.zip)?/g, '<asset-hash>')
      .replace(/CurrentVersion[0-9A-F]{8}[0-9a-f]{32}/g, 'CurrentVersion<code-hash>');
    expect(stripped).toMatchSnapshot();
  });
});
