/**
 * `phoenix pause`: the operator switch that stops new remediations without a deploy.
 *
 * Remediations already past their recheck finish (stopping one half-way would be worse);
 * every execution that reaches recheck while paused ends as `skipped: paused`. Detection
 * keeps recording compliance and notifying. `phoenix resume` turns the switch off.
 */
import { parseArgs } from 'node:util';
import { makeClients } from '../../aws/clients';
import { StateStore } from '../../aws/state-store';
import type { CliIo } from '../io';

const OPTIONS = {
  table: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  by: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(command: 'pause' | 'resume'): string {
  const what = command === 'pause' ? 'Stops new remediations' : 'Allows remediations again';
  return [
    `Usage: phoenix ${command} [--table NAME] [--by NAME] [--region REGION] [--endpoint URL]`,
    '',
    `${what} (the pause switch in Phoenix's state table).`,
    '',
    'Options:',
    '  --table NAME     the state table (default: $PHOENIX_TABLE_NAME)',
    '  --by NAME        who flips the switch, recorded with it (default: $USER)',
    '  --region REGION  AWS region (default: the SDK configuration, e.g. $AWS_REGION)',
    '  --endpoint URL   AWS endpoint (default: $AWS_ENDPOINT_URL)',
  ].join('\n');
}

/**
 * Sets the pause switch to `paused`; shared by `pause` and `resume`.
 * Exit codes: 0 done, 1 usage error or AWS error (message on standard error).
 */
export async function setSwitch(paused: boolean, argv: string[], io: CliIo): Promise<number> {
  const command = paused ? 'pause' : 'resume';
  let values: { table?: string; region?: string; endpoint?: string; by?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    io.stderr(
      `phoenix ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage(command)}`,
    );
    return 1;
  }
  if (values.help === true) {
    io.stdout(usage(command));
    return 0;
  }
  const table = values.table ?? io.env.PHOENIX_TABLE_NAME;
  if (table === undefined || table === '') {
    io.stderr(`phoenix ${command}: no state table: pass --table NAME or set PHOENIX_TABLE_NAME`);
    return 1;
  }
  const by = values.by ?? io.env.USER ?? io.env.USERNAME ?? 'phoenix-cli';
  const clientOptions: { region?: string; endpoint?: string } = {};
  if (values.region !== undefined) clientOptions.region = values.region;
  if (values.endpoint !== undefined) clientOptions.endpoint = values.endpoint;
  const clients = makeClients(clientOptions);
  try {
    const store = new StateStore(clients.dynamodb, table);
    const before = await store.pauseState();
    const after = await store.setPaused(paused, by);
    const state = paused ? 'paused' : 'resumed';
    const note = before.paused === paused ? ` (it already was, set by ${before.by ?? 'unknown'})` : '';
    io.stdout(`Remediation ${state} by ${after.by} at ${after.at}${note}.`);
    if (paused)
      io.stdout('Executions reaching their recheck now end as "skipped: paused". Undo: phoenix resume');
    return 0;
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr(`phoenix ${command}: could not set the switch in table ${table}: ${message}`);
    return 1;
  } finally {
    clients.dynamodb.destroy();
  }
}

/** `phoenix pause [--table NAME] [--by NAME] [--region R] [--endpoint URL]` */
export function run(argv: string[], io: CliIo): Promise<number> {
  return setSwitch(true, argv, io);
}
