/**
 * The app's context keys: defaults, the forms `-c key=value` delivers (strings), and one
 * clear line per wrong key.
 */

import path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { DesiredStateInvalidError } from '../../functions/domain/desired-state/errors';
import { DriftRemediator } from '../../infra/drift-remediator';
import { SettingsError } from '../../infra/errors';
import { CONTEXT_KEYS, DEFAULT_DESIRED_STATE_PATH, readSettings } from '../../infra/settings';

const from = (context: Record<string, unknown>) => readSettings((key) => context[key]);

describe('readSettings', () => {
  it('defaults to examples/phoenix.yaml, an environment-agnostic stack named Phoenix, nothing optional', () => {
    const settings = from({});
    expect(settings).toEqual({
      stackName: 'Phoenix',
      remediator: {
        desiredStatePath: DEFAULT_DESIRED_STATE_PATH,
        subscriptions: [],
        createConfigRecorder: false,
        removalPolicy: RemovalPolicy.RETAIN,
        instanceRoleArns: [],
        ebsKmsKeyArns: [],
      },
    });
  });

  it('reads every key, as the strings `-c key=value` delivers', () => {
    const settings = from({
      [CONTEXT_KEYS.desiredStatePath]: 'infra/phoenix.yaml',
      [CONTEXT_KEYS.stackName]: 'PhoenixProd',
      [CONTEXT_KEYS.account]: '123456789012',
      [CONTEXT_KEYS.region]: 'eu-central-1',
      [CONTEXT_KEYS.subscriptions]: '[{"protocol":"email","endpoint":"web@example.com","teams":["web"]}]',
      [CONTEXT_KEYS.createConfigRecorder]: 'true',
      [CONTEXT_KEYS.sweepFrequency]: 'Six_Hours',
      [CONTEXT_KEYS.logRetentionDays]: '30',
      [CONTEXT_KEYS.removalPolicy]: 'destroy',
      [CONTEXT_KEYS.instanceRoleArns]: 'arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b',
      [CONTEXT_KEYS.ebsKmsKeyArns]: '["arn:aws:kms:eu-central-1:123456789012:key/k"]',
      [CONTEXT_KEYS.commit]: 'abc123',
      [CONTEXT_KEYS.logLevel]: 'DEBUG',
      [CONTEXT_KEYS.planRole]:
        '{"githubRepository":"acme/infra","oidcProviderArn":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}',
      [CONTEXT_KEYS.chatChannels]:
        '[{"platform":"slack","name":"web","workspaceId":"T1","channelId":"C1","teams":["web"]},' +
        '{"platform":"microsoft-teams","name":"ops","tenantId":"t","teamId":"g","channelId":"19:x@thread.tacv2","loggingLevel":"INFO"}]',
    });
    expect(settings).toEqual({
      stackName: 'PhoenixProd',
      account: '123456789012',
      region: 'eu-central-1',
      remediator: {
        desiredStatePath: 'infra/phoenix.yaml',
        subscriptions: [{ protocol: 'email', endpoint: 'web@example.com', teams: ['web'] }],
        createConfigRecorder: true,
        sweepFrequency: 'Six_Hours',
        logRetention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
        instanceRoleArns: ['arn:aws:iam::123456789012:role/a', 'arn:aws:iam::123456789012:role/b'],
        ebsKmsKeyArns: ['arn:aws:kms:eu-central-1:123456789012:key/k'],
        commit: 'abc123',
        logLevel: 'DEBUG',
        planRole: {
          githubRepository: 'acme/infra',
          oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
        },
        chatChannels: [
          { platform: 'slack', name: 'web', workspaceId: 'T1', channelId: 'C1', teams: ['web'] },
          {
            platform: 'microsoft-teams',
            name: 'ops',
            tenantId: 't',
            teamId: 'g',
            channelId: '19:x@thread.tacv2',
            loggingLevel: 'INFO',
          },
        ],
      },
    });
  });

  it('accepts the same values as JSON in cdk.json', () => {
    const settings = from({
      [CONTEXT_KEYS.createConfigRecorder]: true,
      [CONTEXT_KEYS.logRetentionDays]: 90,
      [CONTEXT_KEYS.subscriptions]: [
        { protocol: 'sqs', endpoint: 'arn:aws:sqs:eu-central-1:123456789012:q' },
      ],
    });
    expect(settings.remediator.createConfigRecorder).toBe(true);
    expect(settings.remediator.logRetention).toBe(RetentionDays.THREE_MONTHS);
    expect(settings.remediator.subscriptions).toEqual([
      { protocol: 'sqs', endpoint: 'arn:aws:sqs:eu-central-1:123456789012:q' },
    ]);
  });

  it.each([
    [CONTEXT_KEYS.createConfigRecorder, 'maybe'],
    [CONTEXT_KEYS.account, '1234'],
    [CONTEXT_KEYS.region, 'Frankfurt'],
    [CONTEXT_KEYS.logRetentionDays, '31'],
    [CONTEXT_KEYS.sweepFrequency, 'Hourly'],
    [CONTEXT_KEYS.removalPolicy, 'snapshot'],
    [CONTEXT_KEYS.subscriptions, '[{"protocol":"sms","endpoint":"+49"}]'],
    [CONTEXT_KEYS.subscriptions, '[{"protocol":"email","endpoint":"a@b.c","team":"web"}]'],
    [CONTEXT_KEYS.planRole, '{"githubRepository":"infra"}'],
    [CONTEXT_KEYS.planRole, '{"githubRepository":"acme/infra","subjects":[]}'],
    [CONTEXT_KEYS.planRole, '{"githubRepository":"acme/infra","oidcProviderArn":"token.actions"}'],
    [CONTEXT_KEYS.planRole, '{"githubRepository":"acme/infra","audience":"sts"}'],
    [CONTEXT_KEYS.chatChannels, '[{"platform":"discord","name":"web","channelId":"1"}]'],
    [CONTEXT_KEYS.chatChannels, '[{"platform":"slack","name":"web team","workspaceId":"T","channelId":"C"}]'],
    [CONTEXT_KEYS.chatChannels, '[{"platform":"slack","name":"web","channelId":"C"}]'],
    [
      CONTEXT_KEYS.chatChannels,
      '[{"platform":"microsoft-teams","name":"x","workspaceId":"T","channelId":"C"}]',
    ],
  ])('names the key when %s is %s', (key, value) => {
    expect(() => from({ [key]: value })).toThrow(SettingsError);
    expect(() => from({ [key]: value })).toThrow(`context ${key}`);
  });

  it('reports every wrong key at once', () => {
    try {
      from({ [CONTEXT_KEYS.account]: 'x', [CONTEXT_KEYS.region]: 'y' });
      expect.unreachable('settings should not validate');
    } catch (error) {
      expect(String(error)).toContain(CONTEXT_KEYS.account);
      expect(String(error)).toContain(CONTEXT_KEYS.region);
    }
  });
});

describe('DriftRemediator.fromFile', () => {
  it('refuses an invalid desired-state file with its file:line:col issues, building nothing', async () => {
    const stack = new Stack(new App(), 'S');
    const file = path.join(import.meta.dirname, 'fixtures', 'invalid.yaml');
    await expect(DriftRemediator.fromFile(stack, 'Phoenix', { desiredStatePath: file })).rejects.toThrow(
      DesiredStateInvalidError,
    );
    await expect(DriftRemediator.fromFile(stack, 'Phoenix', { desiredStatePath: file })).rejects.toThrow(
      /invalid\.yaml:\d+:\d+ /,
    );
    expect(stack.node.children).toEqual([]);
  });
});
