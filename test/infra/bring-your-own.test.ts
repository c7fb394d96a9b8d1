/**
 * The construct's API: a platform can bring its own state table and notification topic, and
 * Phoenix then wires everything to them (and creates neither), refusing at synth a table
 * without the layout its code needs or a topic without a key it can publish with.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Billing, Table, TableEncryption, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { DriftRemediator, type DriftRemediatorProps } from '../../infra/drift-remediator';
import { NotificationTopicError, StateTableLayoutError } from '../../infra/errors';
import { resolve, statementsOfRole } from './helpers/iam';
import { loadFixture, logicalIdOf, scratchDir, type TemplateJson } from './helpers/synth';

type Extra = Omit<DriftRemediatorProps, 'desiredState'>;

async function build(extra: (stack: Stack) => Extra) {
  const app = new App({ outdir: scratchDir('byo'), context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Platform');
  const remediator = new DriftRemediator(stack, 'Phoenix', {
    ...extra(stack),
    desiredState: await loadFixture('phoenix.yaml'),
  });
  const template = Template.fromStack(stack);
  return { stack, remediator, template, json: template.toJSON() as TemplateJson };
}

const layout = {
  partitionKey: { name: 'pk', type: AttributeType.STRING },
  sortKey: { name: 'sk', type: AttributeType.STRING },
  timeToLiveAttribute: 'expiresAt',
};

describe('a table brought by the platform', () => {
  let built: Awaited<ReturnType<typeof build>>;
  let table: Table;
  beforeAll(async () => {
    built = await build((stack) => {
      table = new Table(stack, 'SharedState', { ...layout, encryption: TableEncryption.CUSTOMER_MANAGED });
      return { table };
    });
  });

  it('is the table Phoenix uses: no second table, its name in every function, the state machine and outputs', () => {
    const { template, stack, remediator } = built;
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    expect(remediator.table).toBe(table);
    const tableRef = { Ref: logicalIdOf(stack, table) };
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ PHOENIX_TABLE_NAME: tableRef }) } },
      2,
    );
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionSubstitutions: Match.objectLike({ TableName: tableRef }),
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const tableName = Object.entries(outputs).find(([key]) => key.startsWith('PhoenixTableName'));
    expect(tableName?.[1].Value).toEqual(tableRef);
  });

  it("grants its customer-managed key to every role that reads or writes it, and the table's actions on it only", () => {
    const { stack, remediator } = built;
    const keyArn = `<${logicalIdOf(stack, table.encryptionKey as Key)}.Arn>`;
    const tableArn = `<${logicalIdOf(stack, table)}.Arn>`;
    for (const role of [
      remediator.evaluator.role,
      remediator.remediationSteps.role,
      remediator.stateMachine.role,
    ]) {
      const statements = statementsOfRole(built.json, logicalIdOf(stack, role));
      const onKey = statements.filter((s) => s.Resource.includes(keyArn)).flatMap((s) => s.Action);
      expect(onKey, role.node.path).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt']));
      const dynamo = statements.filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
      expect(dynamo.length, role.node.path).toBeGreaterThan(0);
      for (const statement of dynamo) expect(statement.Resource, role.node.path).toEqual([tableArn]);
    }
  });

  it('may be a TableV2 with the same layout', async () => {
    const v2 = await build((stack) => ({
      table: new TableV2(stack, 'Global', { ...layout, billing: Billing.onDemand() }),
    }));
    v2.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    v2.template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  it('may be imported by name, taken on trust', async () => {
    const imported = await build((stack) => ({
      table: Table.fromTableName(stack, 'Existing', 'platform-state'),
    }));
    imported.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    imported.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PHOENIX_TABLE_NAME: 'platform-state' }) },
    });
  });

  it.each([
    [
      'another partition key',
      { ...layout, partitionKey: { name: 'id', type: AttributeType.STRING } },
      /its partition key is id, not pk/,
    ],
    [
      'a numeric sort key',
      { ...layout, sortKey: { name: 'sk', type: AttributeType.NUMBER } },
      /its sort key sk is of type N, not S/,
    ],
    [
      'no sort key',
      { partitionKey: layout.partitionKey, timeToLiveAttribute: 'expiresAt' },
      /its sort key is missing/,
    ],
    [
      'no TTL',
      { partitionKey: layout.partitionKey, sortKey: layout.sortKey },
      /TTL must be enabled on expiresAt/,
    ],
    [
      'TTL on another attribute',
      { ...layout, timeToLiveAttribute: 'ttl' },
      /TTL must be enabled on expiresAt/,
    ],
  ])('is refused at synth with %s, naming the difference', async (_what, props, message) => {
    const attempt = build((stack) => ({ table: new Table(stack, 'Wrong', props) }));
    await expect(attempt).rejects.toThrow(StateTableLayoutError);
    await expect(build((stack) => ({ table: new Table(stack, 'Wrong', props) }))).rejects.toThrow(message);
  });
});

describe('a topic brought by the platform', () => {
  let built: Awaited<ReturnType<typeof build>>;
  let topic: Topic;
  let key: Key;
  beforeAll(async () => {
    built = await build((stack) => {
      key = new Key(stack, 'PlatformKey', { enableKeyRotation: true });
      topic = new Topic(stack, 'PlatformEvents', { masterKey: key, enforceSSL: true });
      return {
        topic,
        subscriptions: [{ protocol: 'email', endpoint: 'web@example.com', teams: ['web'] }],
      };
    });
  });

  it('is the topic Phoenix publishes to, alarms on and subscribes teams to; it creates no topic or key of its own', () => {
    const { template, stack, remediator } = built;
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(remediator.topic).toBe(topic);
    const topicRef = { Ref: logicalIdOf(stack, topic) };
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ PHOENIX_TOPIC_ARN: topicRef }) } },
      2,
    );
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef] });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: topicRef,
      Endpoint: 'web@example.com',
      FilterPolicy: { team: ['web'] },
    });
  });

  it("lets this account's alarms publish to it and use its key, and the functions publish with the key", () => {
    const { template, stack, remediator } = built;
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: logicalIdOf(stack, topic) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
    const keyArn = `<${logicalIdOf(stack, key)}.Arn>`;
    const statements = statementsOfRole(built.json, logicalIdOf(stack, remediator.evaluator.role));
    const onKey = statements.filter((s) => s.Resource.includes(keyArn)).flatMap((s) => s.Action);
    expect(onKey.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it("may be imported with its key ARN; synth then warns that its policies are the owner's to set", async () => {
    const imported = await build((stack) => ({
      topic: Topic.fromTopicAttributes(stack, 'Existing', {
        topicArn: 'arn:aws:sns:eu-central-1:123456789012:platform-events',
        keyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      }),
    }));
    imported.template.resourceCountIs('AWS::SNS::Topic', 0);
    imported.template.resourceCountIs('AWS::KMS::Key', 0);
    const statements = statementsOfRole(
      imported.json,
      logicalIdOf(imported.stack, imported.remediator.evaluator.role),
    );
    expect(
      statements.some((s) => s.Resource.includes('arn:aws:sns:eu-central-1:123456789012:platform-events')),
    ).toBe(true);
    const warnings = imported.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === 'aws:cdk:warning')
      .map((m) => String(m.data));
    expect(warnings.some((w) => w.includes('cloudwatch.amazonaws.com publish'))).toBe(true);
  });

  it('is refused at synth without a key Phoenix knows of', async () => {
    const attempt = () =>
      build((stack) => ({
        topic: Topic.fromTopicArn(stack, 'Plain', 'arn:aws:sns:eu-central-1:123456789012:plain'),
      }));
    await expect(attempt()).rejects.toThrow(NotificationTopicError);
    await expect(attempt()).rejects.toThrow(/no customer-managed key.*Topic\.fromTopicAttributes/);
  });
});

describe('DriftRemediatorProps', () => {
  it('is read-only, and documents a default for every optional prop', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../../infra/drift-remediator.ts', import.meta.url), 'utf8');
    const body = /export interface DriftRemediatorProps \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const members = [...body.matchAll(/(\/\*\*[\s\S]*?\*\/)\s*\n\s*(readonly )?(\w+)(\??):/g)];
    expect(members.length).toBeGreaterThan(10);
    for (const [, doc = '', readonly, name, optional] of members) {
      expect(readonly, `${name} is readonly`).toBe('readonly ');
      if (optional === '?') expect(doc, `${name} documents its default`).toMatch(/@default /);
    }
  });

  it('resolves the table and topic ARNs the roles are scoped to from what was brought', async () => {
    const imported = await build((stack) => ({ table: Table.fromTableName(stack, 'T', 'platform-state') }));
    const statements = statementsOfRole(
      imported.json,
      logicalIdOf(imported.stack, imported.remediator.evaluator.role),
    );
    const resources = statements.flatMap((s) => s.Resource.map(resolve));
    expect(resources).toContain('arn:aws:dynamodb:eu-central-1:123456789012:table/platform-state');
  });
});
