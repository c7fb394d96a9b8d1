import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  ComplianceRecorder,
  isLocalEndpoint,
  LocalStepFunctions,
  ProgressPrinter,
  plainText,
  type ReconcileReport,
  type RemediationRecord,
  renderReport,
} from '../../functions/cli/commands/reconcile';
import { InvalidInputError } from '../../functions/domain/errors';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance';

const REQUEST = {
  requestVersion: 1,
  instanceId: 'i-0123456789abcdef0',
  fleet: 'web',
  fingerprint: 'v1-abc',
  reasons: [
    { kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'eve', source: 'desired-state' },
  ],
  desiredState: { revision: 'r1', commit: 'c1' },
  launchTemplate: { id: 'lt-0123456789abcdef0', name: 'web-lt', version: 2 },
  detectedAt: '2025-06-16T10:00:00.000Z',
  trigger: 'CreateTags',
};

describe('LocalStepFunctions (StartExecution, locally)', () => {
  it('keeps the pinned input and refuses a name twice, as Step Functions does', async () => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    const start = () =>
      sfn.client.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE,
          name: 'i-0123-v1-abc',
          input: JSON.stringify(REQUEST),
        }),
      );

    await expect(start()).resolves.toMatchObject({
      executionArn: expect.stringMatching(
        /^arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance\/local-[0-9a-f-]{36}:i-0123-v1-abc$/,
      ),
    });
    await expect(start()).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    expect(sfn.takePending()).toEqual([expect.objectContaining({ name: 'i-0123-v1-abc', input: REQUEST })]);
    expect(sfn.takePending()).toEqual([]);
    expect(sfn.started).toHaveLength(1);
  });

  it('gives each execution an ARN of its own: another process starting the same name is another holder', async () => {
    const start = (sfn: LocalStepFunctions) =>
      sfn.client.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE,
          name: 'i-0123-v1-abc',
          input: JSON.stringify(REQUEST),
        }),
      );
    const mine = await start(new LocalStepFunctions(STATE_MACHINE));
    const theirs = await start(new LocalStepFunctions(STATE_MACHINE));

    expect(mine.executionArn).not.toBe(theirs.executionArn);
    // The name stays the last part, as in Step Functions.
    expect([mine.executionArn?.split(':').at(-1), theirs.executionArn?.split(':').at(-1)]).toEqual([
      'i-0123-v1-abc',
      'i-0123-v1-abc',
    ]);
  });

  it.each([
    {
      what: 'an input the state machine would refuse',
      input: JSON.stringify({ ...REQUEST, launchTemplate: { id: 'lt-1', name: 'x', version: '$Latest' } }),
    },
    { what: 'no name', input: JSON.stringify(REQUEST), name: '' },
  ])('refuses $what, starting nothing', async ({ input, name }) => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    await expect(
      sfn.client.send(
        new StartExecutionCommand({ stateMachineArn: STATE_MACHINE, name: name ?? 'n', input }),
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(sfn.started).toEqual([]);
  });

  it('does nothing but start executions', async () => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    await expect(
      sfn.client.send(new DescribeExecutionCommand({ executionArn: 'x' }) as never),
    ).rejects.toThrow(/only starts executions/);
  });
});

describe('ComplianceRecorder (PutEvaluations, locally)', () => {
  it('keeps every evaluation with its result token and reports none failed', async () => {
    const recorder = new ComplianceRecorder();
    const out = await recorder.client.send(
      new PutEvaluationsCommand({
        ResultToken: 'token',
        Evaluations: [
          {
            ComplianceResourceType: 'AWS::EC2::Instance',
            ComplianceResourceId: 'i-1',
            ComplianceType: 'NON_COMPLIANT',
            Annotation: 'tags.Owner: expected a, found b',
            OrderingTimestamp: new Date('2025-06-16T10:00:00Z'),
          },
        ],
      }),
    );
    expect(out).toEqual({ FailedEvaluations: [] });
    expect(recorder.evaluations).toEqual([
      {
        resultToken: 'token',
        resourceId: 'i-1',
        compliance: 'NON_COMPLIANT',
        annotation: 'tags.Owner: expected a, found b',
        orderingTimestamp: '2025-06-16T10:00:00.000Z',
      },
    ]);
  });
});

describe('isLocalEndpoint: where instant waits are safe', () => {
  it.each([
    ['http://127.0.0.1:4566', true],
    ['http://localhost:5000', true],
    ['http://[::1]:5000', true],
    ['https://ec2.eu-central-1.amazonaws.com', false],
    ['https://vpce-0123.ec2.eu-central-1.vpce.amazonaws.com', false],
    ['http://10.0.0.5:4566', false],
    ['not a url', false],
    [undefined, false],
  ])('%s → %s', (endpoint, local) => {
    expect(isLocalEndpoint(endpoint)).toBe(local);
  });
});

function record(overrides: Partial<RemediationRecord>): RemediationRecord {
  return {
    instanceId: 'i-1',
    fleet: 'web',
    team: 'storefront',
    execution: 'i-1-v1-abc',
    executionArn:
      'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance/local-0c4d8a52-96d2-4f7e-9b1a-1f0a6f0c2d11:i-1-v1-abc',
    round: 1,
    outcome: 'succeeded',
    reason: 'replaced',
    detail: 'Replaced i-1 with i-2.',
    replacementId: 'i-2',
    error: null,
    cause: null,
    reasons: [
      {
        kind: 'tag-value',
        field: 'tags.Owner',
        expected: 'team-web',
        actual: 'eve',
        source: 'desired-state',
      },
    ],
    trigger: 'CreateTags',
    principal: 'arn:aws:iam::123456789012:user/eve',
    launchTemplate: { id: 'lt-1', name: 'web-lt', version: 2 },
    transitions: 20,
    apiCalls: 35,
    durationMs: 1800,
    ...overrides,
  };
}

function report(overrides: Partial<ReconcileReport>): ReconcileReport {
  return {
    schemaVersion: 1,
    startedAt: '2025-06-16T10:00:00.000Z',
    finishedAt: '2025-06-16T10:00:05.000Z',
    durationMs: 5000,
    desiredState: { file: 'phoenix.yaml', revision: 'r1', commit: 'c1' },
    target: {
      region: 'us-east-1',
      endpoint: null,
      table: 'phoenix-prod-State',
      topicArn: null,
      waits: 'real',
    },
    converged: true,
    stoppedBecause: 'nothing-new',
    rounds: [],
    summary: {
      fleets: 1,
      instancesJudged: 3,
      driftFound: 0,
      replaced: 0,
      skipped: 0,
      blocked: 0,
      rolledBack: 0,
      failed: 0,
      manualActionRequired: 0,
      held: 0,
      leftDrifted: 0,
      notifications: 0,
    },
    remediations: [],
    held: [],
    leftDrifted: [],
    notifications: [],
    errors: [],
    ...overrides,
  };
}

describe('renderReport', () => {
  it('says there was nothing to do when nothing drifted', () => {
    const text = renderReport(report({}));
    expect(text).toContain(
      'account: AWS (us-east-1), state table phoenix-prod-State, notifications not published (no topic), waits real',
    );
    expect(text).toMatch(/Nothing to do: 3 instances in 1 fleet, none drifted\.$/);
  });

  it('gives every outcome its section, with the reasons and causes a person acts on', () => {
    const text = renderReport(
      report({
        converged: false,
        remediations: [
          record({}),
          record({
            instanceId: 'i-3',
            outcome: 'skipped',
            reason: 'paused',
            detail: 'Not replacing i-3: remediation is paused.',
            replacementId: null,
          }),
          record({
            instanceId: 'i-4',
            outcome: 'blocked',
            reason: 'budget',
            detail: 'Could not start replacing i-4 within the retry bound.',
          }),
          record({
            instanceId: 'i-5',
            outcome: 'rolled-back',
            error: 'ReplacementUnhealthyError',
            cause:
              'ReplacementUnhealthyError: not healthy after 40 checks — rolled back: terminated replacement i-6',
          }),
          record({
            instanceId: 'i-7',
            outcome: 'manual-action-required',
            detail: 'i-7 is drifted but Phoenix cannot replace it: no launch template.',
          }),
        ],
        held: [
          {
            instanceId: 'i-8',
            fleet: 'web',
            round: 1,
            why: 'Not replaced: launch template web-lt version 2 is quarantined',
            reasons: [],
          },
        ],
        leftDrifted: [
          {
            instanceId: 'i-8',
            fleet: 'web',
            reasons: [
              {
                kind: 'image',
                field: 'imageId',
                expected: 'ami-2',
                actual: 'ami-1',
                source: 'launch-template',
              },
            ],
            why: 'quarantined',
          },
        ],
        summary: {
          ...report({}).summary,
          driftFound: 6,
          replaced: 1,
          skipped: 1,
          blocked: 1,
          rolledBack: 1,
          manualActionRequired: 1,
          held: 1,
          leftDrifted: 1,
        },
      }),
    );

    expect(text).toContain(
      'Replaced\n  i-1 → i-2  (web, web-lt v2, 1.8s, 20 states)\n      tags.Owner: expected team-web, found eve; changed by arn:aws:iam::123456789012:user/eve',
    );
    expect(text).toContain('Skipped\n  i-3 (web): paused: Not replacing i-3: remediation is paused.');
    expect(text).toContain('Blocked\n  i-4 (web): Could not start replacing i-4 within the retry bound.');
    expect(text).toContain(
      'Rolled back\n  i-5 (web): ReplacementUnhealthyError: not healthy after 40 checks — rolled back: terminated replacement i-6',
    );
    expect(text).toContain(
      'Manual action required\n  i-7 (web): i-7 is drifted but Phoenix cannot replace it: no launch template.',
    );
    expect(text).toContain(
      'Not replaced\n  i-8 (web): Not replaced: launch template web-lt version 2 is quarantined',
    );
    expect(text).toContain('Still drifted\n  i-8 (web): imageId: expected ami-2, found ami-1 — quarantined');
    expect(text).toMatch(
      /Drift found on 6 instances: 1 replaced, 1 skipped, 1 blocked, 1 rolled back, 1 need manual action, 1 not replaced\. NOT converged: 1 instance still drifted\.$/,
    );
  });

  it('says when it stopped at the round limit', () => {
    const text = renderReport(
      report({
        converged: false,
        stoppedBecause: 'round-limit',
        rounds: [1, 2, 3].map((round) => ({
          round,
          judged: 1,
          inSync: 0,
          drifted: 1,
          notApplicable: 0,
          started: 1,
          alreadyStarted: 0,
          held: 0,
        })),
        summary: { ...report({}).summary, driftFound: 1 },
      }),
    );
    expect(text).toMatch(/NOT converged: stopped after 2 rounds with work left\.$/);
  });
});

describe('ProgressPrinter', () => {
  const events = [
    { type: 'round', round: 1, pending: 0 },
    { type: 'execution-start', instanceId: 'i-1', fleet: 'web', execution: 'e', reasons: record({}).reasons },
    { type: 'state', instanceId: 'i-1', fleet: 'web', state: 'AcquireLease', elapsedMs: 1200 },
    {
      type: 'state',
      instanceId: 'i-1',
      fleet: 'web',
      state: 'AcquireLease',
      elapsedMs: 1300,
      retry: 'LeaseDeniedError',
    },
    { type: 'execution-end', record: record({}) },
  ] as const;

  it('writes one plain line per event when no terminal is watching', () => {
    const lines: string[] = [];
    const printer = new ProgressPrinter((text) => lines.push(text), false);
    for (const event of events) printer.onProgress(event);
    printer.stop();
    expect(lines).toEqual([
      'Round 1: sweeping every declared fleet…',
      '  i-1 (web) drifted: tags.Owner: expected team-web, found eve',
      '  [  1.2s] i-1 AcquireLease',
      '  [  1.3s] i-1 AcquireLease retried after LeaseDeniedError',
      '  [  1.8s] i-1 replaced by i-2 ✓',
    ]);
  });

  it('on a terminal, redraws the running executions in place and leaves only finished lines behind', () => {
    const writes: string[] = [];
    const printer = new ProgressPrinter((text) => writes.push(text), true);
    for (const event of events) printer.onProgress(event);
    printer.stop();

    const all = writes.join('\n');
    expect(all).toMatch(/▸ i-1 {2}web {10}AcquireLease \(retry\)/);
    // Every redraw first moves up over the block it drew last and clears it.
    expect(writes.filter((w) => w.startsWith(`${String.fromCharCode(27)}[1A`)).length).toBeGreaterThan(1);
    expect(plainText(writes.at(-1) ?? '')).toBe('  [  1.8s] i-1 replaced by i-2 ✓');
  });
});
