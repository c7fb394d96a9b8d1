import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStateTable } from '../../../emulator/table';
import { describeInstances } from '../../../functions/aws/inventory';
import { StateStore } from '../../../functions/aws/state-store';
import { run as quarantine } from '../../../functions/cli/commands/quarantine';
import { memoryIo } from '../../../functions/cli/io';
import { fingerprintOf } from '../../../functions/domain/drift/fingerprint';
import { driftAttemptOf, executionArnOf, executionName } from '../../../functions/evaluate-drift/execution';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION, testClients } from '../../helpers/emulator';
import {
  desiredState,
  seedDriftedStandaloneFleet,
  type TestAccount,
  testAccount,
} from '../../remediation/harness';

const TABLE = 'phoenix-cli-quarantine';
const clients = testClients();
const store = new StateStore(clients.dynamodb, TABLE);
const flags = () => ['--table', TABLE, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()];

// The command builds its clients from the SDK's own chain, as on an operator's machine.
beforeAll(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
  await createStateTable(clients.dynamodb, TABLE);
});
afterAll(() => {
  vi.unstubAllEnvs();
});

describe('phoenix quarantine', () => {
  it('lists nothing when no rollback has quarantined a version', async () => {
    const io = memoryIo();
    expect(await quarantine(['list', ...flags()], io)).toBe(0);
    expect(io.out()).toContain('No quarantines.');
  });

  it('lists each quarantine with its cause, then lifts one so remediation may use it again', async () => {
    await store.quarantine({
      fleet: 'web',
      templateId: 'lt-0abc',
      version: 7,
      cause: 'replacement i-0new never became healthy',
      execution: 'i-0old-v1-abc',
    });
    await store.quarantine({
      fleet: 'api',
      templateId: 'lt-0def',
      version: 2,
      cause: 'boom',
      execution: 'x',
    });

    const listed = memoryIo();
    expect(await quarantine(['list', '--fleet', 'web', ...flags()], listed)).toBe(0);
    expect(listed.out()).toContain('web  lt-0abc v7');
    expect(listed.out()).toContain('cause: replacement i-0new never became healthy');
    expect(listed.out()).not.toContain('lt-0def');

    const json = memoryIo();
    expect(await quarantine(['list', '--format', 'json', ...flags()], json)).toBe(0);
    const parsed = JSON.parse(json.out()) as { schemaVersion: number; quarantines: { fleet: string }[] };
    expect(parsed.schemaVersion).toBe(1);
    expect(parsed.quarantines.map((q) => q.fleet).sort()).toEqual(['api', 'web']);

    const lifted = memoryIo();
    expect(
      await quarantine(
        ['lift', '--fleet', 'web', '--template', 'lt-0abc', '--version', '7', ...flags()],
        lifted,
      ),
    ).toBe(0);
    expect(lifted.out()).toContain('Lifted the quarantine of lt-0abc v7 for fleet web');
    expect(await store.getQuarantine('web', 'lt-0abc', 7)).toBeUndefined();
    expect(await store.getQuarantine('api', 'lt-0def', 2)).toBeDefined();
  });

  it('says so, with exit 1, when lifting a quarantine that does not exist', async () => {
    const io = memoryIo();
    expect(
      await quarantine(['lift', '--fleet', 'web', '--template', 'lt-0fff', '--version', '1', ...flags()], io),
    ).toBe(1);
    expect(io.err()).toContain('no quarantine for fleet web, lt-0fff v1');
  });

  it.each([
    { argv: [], message: 'expected "list" or "lift"' },
    { argv: ['purge'], message: 'expected "list" or "lift"' },
    { argv: ['lift', '--fleet', 'web'], message: 'needs --fleet NAME, --template LT_ID and --version N' },
    {
      argv: ['lift', '--fleet', 'web', '--template', 'lt-1', '--version', 'two'],
      message: '--version must be a whole number ≥ 1, not "two"',
    },
    { argv: ['list', '--format', 'yaml'], message: '--format must be text or json' },
  ])('refuses $argv with exit 1 and a clear message', async ({ argv, message }) => {
    const io = memoryIo();
    expect(await quarantine([...argv, '--table', TABLE], io)).toBe(1);
    expect(io.err()).toContain(message);
  });

  it('needs a table', async () => {
    const io = memoryIo({ env: {} });
    expect(await quarantine(['list'], io)).toBe(1);
    expect(io.err()).toContain('no state table');
  });
});

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance';
const FINGERPRINT = fingerprintOf([
  { kind: 'image', field: 'imageId', expected: 'ami-new', actual: 'ami-old', source: 'launch-template' },
]);

describe('driftAttemptOf', () => {
  it.each([
    { instanceId: 'i-0123456789abcdef0', attempt: 0 },
    { instanceId: 'i-0123abcd', attempt: 1 },
    { instanceId: 'i-0fedcba9876543210', attempt: 12 },
  ])(
    'reads $instanceId at attempt $attempt back from the name the evaluator gives its execution',
    ({ instanceId, attempt }) => {
      const name = executionName(instanceId, FINGERPRINT, attempt);
      const expected = { instanceId, fingerprint: FINGERPRINT, attempt, execution: name };
      expect(driftAttemptOf(executionArnOf(STATE_MACHINE_ARN, name))).toEqual(expected);
      expect(driftAttemptOf(name)).toEqual(expected);
    },
  );

  it.each([
    ['a name from before names carried an attempt', `i-0123456789abcdef0-${FINGERPRINT}`],
    ["the store's placeholder for an unrecorded execution", 'unknown'],
    ['a name someone chose', `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:manual-retry-1`],
  ])('finds no drift in %s', (_what, execution) => {
    expect(driftAttemptOf(execution)).toBeUndefined();
  });
});

describe('phoenix quarantine lift and the rolled-back drift', () => {
  const instanceId = 'i-0aaaabbbbccccdddd';

  it('moves the drift whose execution was rolled back to its next attempt, once', async () => {
    const name = executionName(instanceId, FINGERPRINT, 0);
    await store.quarantine({
      fleet: 'batch',
      templateId: 'lt-0ba7c4',
      version: 3,
      cause: 'replacement never became healthy',
      execution: executionArnOf(STATE_MACHINE_ARN, name),
    });
    expect(await store.attemptOf(instanceId, FINGERPRINT)).toBe(0);

    const io = memoryIo();
    const lift = ['lift', '--fleet', 'batch', '--template', 'lt-0ba7c4', '--version', '3', ...flags()];
    expect(await quarantine(lift, io)).toBe(0);

    expect(await store.getQuarantine('batch', 'lt-0ba7c4', 3)).toBeUndefined();
    expect(await store.attemptOf(instanceId, FINGERPRINT)).toBe(1);
    expect(io.out()).toContain(
      `The drift ${FINGERPRINT} of ${instanceId} (execution ${name}, rolled back as attempt 0) is now at attempt 1: its next detection starts a new remediation.`,
    );
    // Lifted: a second lift finds nothing and moves nothing further.
    expect(await quarantine(lift, memoryIo())).toBe(1);
    expect(await store.attemptOf(instanceId, FINGERPRINT)).toBe(1);
  });

  it('lifts a quarantine whose execution names no drift, and says that no attempt moved', async () => {
    await store.quarantine({
      fleet: 'batch',
      templateId: 'lt-0ba7c4',
      version: 4,
      cause: 'boom',
      execution: `i-0123456789abcdef0-${FINGERPRINT}`,
    });
    const io = memoryIo();
    expect(
      await quarantine(
        ['lift', '--fleet', 'batch', '--template', 'lt-0ba7c4', '--version', '4', ...flags()],
        io,
      ),
    ).toBe(0);
    expect(await store.getQuarantine('batch', 'lt-0ba7c4', 4)).toBeUndefined();
    expect(io.out()).toContain('Lifted the quarantine of lt-0ba7c4 v4 for fleet batch');
    expect(io.out()).toContain(
      `Its execution i-0123456789abcdef0-${FINGERPRINT} is not named <instance>-<fingerprint>-<attempt>: no drift attempt to move.`,
    );
  });
});

describe('phoenix quarantine lift after a real rollback', () => {
  const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  jobs:
    match: { tags: { App: jobs } }
    launchTemplate: { name: jobs-lt, version: $Default }
    tags: { Owner: team-jobs }
`);
  let account: TestAccount;
  let jobs: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    jobs = await seedDriftedStandaloneFleet(account.clients, { name: 'jobs', count: 2 });
  });

  it('lets the drift the state machine rolled back be remediated again, under a new execution name', async () => {
    const [old = ''] = jobs.instanceIds;
    const accountStore = new StateStore(account.clients.dynamodb, account.tableName);
    const run = async (faults?: { impaired: 'replacement' }) => {
      const input = await account.inputFor(STATE, old);
      const attempt = await accountStore.attemptOf(input.instanceId, input.fingerprint);
      return account.remediate({ ...input, attempt }, STATE, { hooks: { ...(faults && { faults }) } });
    };

    // The state machine rolls the replacement back and quarantines version 2 itself.
    const failed = await run({ impaired: 'replacement' });
    expect(failed.status).toBe('FAILED');
    expect(await accountStore.getQuarantine('jobs', jobs.template.id, 2)).toMatchObject({
      execution: failed.executionArn,
    });
    // A rollback leaves the attempt: without the lift, the next detection would reuse the name.
    const { fingerprint } = await account.inputFor(STATE, old);
    expect(await accountStore.attemptOf(old, fingerprint)).toBe(0);

    const io = memoryIo();
    const lift = ['lift', '--fleet', 'jobs', '--template', jobs.template.id, '--version', '2'];
    const target = ['--table', account.tableName, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()];
    expect(await quarantine([...lift, ...target], io)).toBe(0);
    expect(io.out()).toContain(`of ${old} (execution ${failed.executionArn.split(':').at(-1)}`);

    // The same drift, detected again: a name Step Functions has not seen, and a replacement.
    const again = await run();
    expect(again.executionArn).not.toBe(failed.executionArn);
    expect(again.status).toBe('SUCCEEDED');
    expect(again.output).toMatchObject({ outcome: 'succeeded', reason: 'replaced' });
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toMatch(
      /shutting-down|terminated/,
    );
  });
});
