/**
 * `phoenix quarantine list | lift`: what a rollback quarantined, and how to let it go.
 *
 * A rollback quarantines the fleet's launch template version so a bad image is not tried
 * again on the next event. Once the template is fixed (a new version), the quarantine no
 * longer matters; lifting it is for the case where the failure was not the image's fault.
 */
import { makeClients } from '../../aws/clients';
import { type Quarantine, StateStore } from '../../aws/state-store';
import {
  AWS_OPTIONS,
  awsOptionsUsage,
  clientOptionsFrom,
  describeError,
  parseCommandLine,
  requiredStateTable,
  STATE_TABLE_OPTION,
} from '../command-line';
import type { CliIo } from '../io';

const OPTIONS = {
  ...STATE_TABLE_OPTION,
  ...AWS_OPTIONS,
  fleet: { type: 'string' },
  template: { type: 'string' },
  version: { type: 'string' },
  format: { type: 'string' },
} as const;

const USAGE = [
  'Usage: phoenix quarantine list [--fleet NAME] [--format text|json] [--table NAME]',
  '                               [--region REGION] [--endpoint URL]',
  '       phoenix quarantine lift --fleet NAME --template LT_ID --version N [--table NAME]',
  '                               [--region REGION] [--endpoint URL]',
  '',
  "A rollback quarantines the fleet's launch template version: no new remediation starts",
  'for it. `list` shows every quarantine with its cause; `lift` removes one.',
  '',
  'Options:',
  '  --fleet NAME       the fleet (list: only this fleet)',
  '  --template LT_ID   the launch template id (lt-...)',
  '  --version N        the launch template version number',
  '  --format text|json output format for list (default: text)',
  '  --table NAME       the state table (default: $PHOENIX_TABLE_NAME)',
  awsOptionsUsage(21),
  '',
  'Exit status: 0 done, 1 error (lift: also when no such quarantine exists).',
].join('\n');

function formatQuarantine(q: Quarantine): string {
  return `${q.fleet}  ${q.templateId} v${q.version}  since ${q.at}  by ${q.execution}\n    cause: ${q.cause}`;
}

/** `phoenix quarantine list|lift ...` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine('quarantine', argv, OPTIONS, USAGE, io, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== 'list' && action !== 'lift')) {
    io.stderr(`phoenix quarantine: expected "list" or "lift"\n\n${USAGE}`);
    return 1;
  }
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    io.stderr(`phoenix quarantine: --format must be text or json, got "${format}"`);
    return 1;
  }
  const table = requiredStateTable('quarantine', values, io);
  if (table === undefined) return 1;
  let lift: { fleet: string; template: string; version: number } | undefined;
  if (action === 'lift') {
    const version = Number(values.version);
    if (
      values.fleet === undefined ||
      values.template === undefined ||
      !Number.isInteger(version) ||
      version < 1
    ) {
      io.stderr(
        'phoenix quarantine lift: needs --fleet NAME, --template LT_ID and --version N (a whole number ≥ 1)',
      );
      return 1;
    }
    lift = { fleet: values.fleet, template: values.template, version };
  }

  const clients = makeClients(clientOptionsFrom(values));
  try {
    const store = new StateStore(clients.dynamodb, table);
    if (lift === undefined) {
      const quarantines = await store.listQuarantines(values.fleet);
      if (format === 'json') {
        io.stdout(JSON.stringify({ schemaVersion: 1, quarantines }, null, 2));
      } else if (quarantines.length === 0) {
        io.stdout(
          values.fleet === undefined ? 'No quarantines.' : `No quarantines for fleet ${values.fleet}.`,
        );
      } else {
        for (const q of quarantines) io.stdout(formatQuarantine(q));
      }
      return 0;
    }
    const lifted = await store.liftQuarantine(lift.fleet, lift.template, lift.version);
    if (!lifted) {
      io.stderr(
        `phoenix quarantine lift: no quarantine for fleet ${lift.fleet}, ${lift.template} v${lift.version} (see phoenix quarantine list)`,
      );
      return 1;
    }
    io.stdout(
      `Lifted the quarantine of ${lift.template} v${lift.version} for fleet ${lift.fleet}: the next detection may remediate with it again.`,
    );
    return 0;
  } catch (error) {
    io.stderr(`phoenix quarantine: table ${table}: ${describeError(error)}`);
    return 1;
  } finally {
    clients.dynamodb.destroy();
  }
}
