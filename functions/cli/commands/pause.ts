/**
 * `phoenix pause`: the operator switch that stops new remediations without a deploy.
 *
 * Remediations already past their recheck finish (stopping one half-way would be worse);
 * every execution that reaches recheck while paused ends as `skipped: paused`. Detection
 * keeps recording compliance and notifying. `phoenix resume` turns the switch off.
 */
import { makeClients } from '../../aws/clients';
import { StateStore } from '../../aws/state-store';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  parseCommandLine,
  requiredStateTable,
  STATE_TABLE_OPTION,
} from '../command-line';
import type { CliIo } from '../io';

const OPTIONS = {
  ...STATE_TABLE_OPTION,
  ...AWS_OPTIONS,
  by: { type: 'string' },
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
    awsOptionsUsage(19),
  ].join('\n');
}

/**
 * Sets the pause switch to `paused`; shared by `pause` and `resume`.
 * Exit codes: 0 done, 1 usage error or AWS error (message on standard error).
 */
export async function setSwitch(paused: boolean, argv: string[], io: CliIo): Promise<number> {
  const command = paused ? 'pause' : 'resume';
  const parsed = parseCommandLine(command, argv, OPTIONS, usage(command), io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const table = requiredStateTable(command, values, io);
  if (table === undefined) return 1;
  const clientOptions = awsClientOptions(command, values, io);
  if (clientOptions === undefined) return 1;
  const by = values.by ?? (io.env.USER || undefined) ?? (io.env.USERNAME || undefined) ?? 'phoenix-cli';
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
    io.stderr(`phoenix ${command}: could not set the switch in table ${table}: ${describeError(error)}`);
    return 1;
  } finally {
    clients.destroy();
  }
}

/** `phoenix pause [--table NAME] [--by NAME] [--region R] [--endpoint URL]` */
export function run(argv: string[], io: CliIo): Promise<number> {
  return setSwitch(true, argv, io);
}
