import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStateTable } from '../../../emulator/table';
import { StateStore } from '../../../functions/aws/state-store';
import { run as pause } from '../../../functions/cli/commands/pause';
import { run as resume } from '../../../functions/cli/commands/resume';
import { memoryIo } from '../../../functions/cli/io';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION, testClients } from '../../helpers/emulator';

const TABLE = 'phoenix-cli-switch';
const clients = testClients();
const store = new StateStore(clients.dynamodb, TABLE);

describe('phoenix pause / resume', () => {
  beforeAll(async () => {
    // The commands build their clients from the SDK's own chain, as on an operator's machine.
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    await createStateTable(clients.dynamodb, TABLE);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  const flags = () => ['--region', TEST_REGION, '--endpoint', emulatorEndpoint()];

  it('pause sets the switch with who did it, resume clears it', async () => {
    const io = memoryIo();
    expect(await pause(['--table', TABLE, '--by', 'alice', ...flags()], io)).toBe(0);
    expect(io.out()).toContain('Remediation paused by alice');
    expect(await store.pauseState()).toMatchObject({ paused: true, by: 'alice' });

    const io2 = memoryIo();
    expect(await resume(['--table', TABLE, '--by', 'bob', ...flags()], io2)).toBe(0);
    expect(io2.out()).toContain('Remediation resumed by bob');
    expect(await store.pauseState()).toMatchObject({ paused: false, by: 'bob' });
  });

  it('takes the table from PHOENIX_TABLE_NAME and the operator from USER', async () => {
    const io = memoryIo({ env: { PHOENIX_TABLE_NAME: TABLE, USER: 'carol' } });
    expect(await pause(flags(), io)).toBe(0);
    expect(await store.pauseState()).toMatchObject({ paused: true, by: 'carol' });
    await resume(['--table', TABLE, ...flags()], memoryIo({ env: { USER: 'carol' } }));
  });

  it('says so when the switch already was in that position', async () => {
    await resume(['--table', TABLE, '--by', 'dave', ...flags()], memoryIo());
    const io = memoryIo();
    expect(await resume(['--table', TABLE, '--by', 'erin', ...flags()], io)).toBe(0);
    expect(io.out()).toContain('it already was, set by dave');
  });

  it.each([
    { argv: [], env: {}, message: 'no state table' },
    { argv: ['--tabel', 'x'], env: {}, message: 'unknown option "--tabel"; did you mean --table?' },
    { argv: ['extra'], env: { PHOENIX_TABLE_NAME: TABLE }, message: 'extra' },
  ])('refuses $argv with exit 1 and a clear message', async ({ argv, env, message }) => {
    const io = memoryIo({ env });
    expect(await pause(argv, io)).toBe(1);
    expect(io.err()).toContain(message);
    expect(io.out()).toBe('');
  });

  it('exits 1 naming the table when it does not exist', async () => {
    const io = memoryIo();
    expect(await pause(['--table', 'no-such-table', ...flags()], io)).toBe(1);
    expect(io.err()).toContain('no-such-table');
    expect(io.err()).toContain('ResourceNotFoundException');
  });

  it('prints its usage on --help', async () => {
    const io = memoryIo();
    expect(await resume(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: phoenix resume');
  });
});
