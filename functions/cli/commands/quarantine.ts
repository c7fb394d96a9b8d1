/**
 * `phoenix quarantine list | lift`: what a rollback quarantined, and how to let it go.
 *
 * A rollback quarantines the fleet's launch template version so a bad image is not tried
 * again on the next event. Once the template is fixed (a new version), the quarantine no
 * longer matters; lifting it is for the case where the failure was not the image's fault.
 */
import { parseArgs } from 'node:util';
import { makeClients } from '../../aws/clients';
import { type Quarantine, StateStore } from '../../aws/state-store';
import type { CliIo } from '../io';

const OPTIONS = {
  table: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  fleet: { type: 'string' },
  template: { type: 'string' },
  version: { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
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
  '  --region REGION    AWS region (default: the SDK configuration, e.g. $AWS_REGION)',
  '  --endpoint URL     AWS endpoint (default: $AWS_ENDPOINT_URL)',
  '',
  'Exit status: 0 done, 1 error (lift: also when no such quarantine exists).',
].join('\n');

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

function formatQuarantine(q: Quarantine): string {
  return `${q.fleet}  ${q.templateId} v${q.version}  since ${q.at}  by ${q.execution}\n    cause: ${q.cause}`;
}

/** `phoenix quarantine list|lift ...` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.stderr(`phoenix quarantine: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 1;
  }
  if (values.help === true) {
    io.stdout(USAGE);
    return 0;
  }
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
  const table = values.table ?? io.env.PHOENIX_TABLE_NAME;
  if (table === undefined || table === '') {
    io.stderr('phoenix quarantine: no state table: pass --table NAME or set PHOENIX_TABLE_NAME');
    return 1;
  }
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

  const clientOptions: { region?: string; endpoint?: string } = {};
  if (values.region !== undefined) clientOptions.region = values.region;
  if (values.endpoint !== undefined) clientOptions.endpoint = values.endpoint;
  const clients = makeClients(clientOptions);
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
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr(`phoenix quarantine: table ${table}: ${message}`);
    return 1;
  } finally {
    clients.dynamodb.destroy();
  }
}
