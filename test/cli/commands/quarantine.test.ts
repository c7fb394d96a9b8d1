import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StateStore } from '../../../functions/aws/state-store';
import { run as quarantine } from '../../../functions/cli/commands/quarantine';
import { memoryIo } from '../../../functions/cli/io';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION, testClients } from '../../helpers/emulator';
import { createStateTable } from '../../helpers/table';

const TABLE = 'phoenix-cli-quarantine';
const clients = testClients();
const store = new StateStore(clients.dynamodb, TABLE);
const flags = () => ['--table', TABLE, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()];

describe('phoenix quarantine', () => {
  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    await createStateTable(clients.dynamodb, TABLE);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

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
      await quarantine(['lift', '--fleet', 'web', '--template', 'lt-0zzz', '--version', '1', ...flags()], io),
    ).toBe(1);
    expect(io.err()).toContain('no quarantine for fleet web, lt-0zzz v1');
  });

  it.each([
    { argv: [], message: 'expected "list" or "lift"' },
    { argv: ['purge'], message: 'expected "list" or "lift"' },
    { argv: ['lift', '--fleet', 'web'], message: 'needs --fleet NAME, --template LT_ID and --version N' },
    { argv: ['lift', '--fleet', 'web', '--template', 'lt-1', '--version', 'two'], message: '--version N' },
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
