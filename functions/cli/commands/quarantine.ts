/**
 * `phoenix quarantine list | lift`: what a rollback quarantined, and how to let it go.
 *
 * A rollback quarantines the fleet's launch template version so a bad image is not tried
 * again on the next event. Once the template is fixed (a new version), the quarantine no
 * longer matters; lifting it is for the case where the failure was not the image's fault.
 *
 * Lifting also lets the rolled-back drift be remediated again. Its execution was named
 * `<instance>-<fingerprint>-<attempt>` (evaluate-drift/execution.ts) and a rollback leaves the
 * attempt where it was (docs/adr/0010-execution-attempts.md), so the next detection of the
 * same drift would compute the same name, which Step Functions refuses for 90 days after the
 * execution ended. `lift` reads the drift and attempt from the execution the quarantine
 * recorded and moves the drift to its next attempt, then deletes the quarantine: in that
 * order, a detection in between still meets the quarantine (and starts nothing), and a lift
 * that fails half-way can simply be run again (the move happens once per attempt).
 *
 * The item records one execution, the last to roll back with the version. Executions of the
 * fleet's other drifts that reached their recheck (or their lease) while it was quarantined
 * moved their own attempts as they ended (`skipped: quarantined` / `blocked` may be retried),
 * so the next detection after the lift starts them again.
 */
import { makeClients } from '../../aws/clients';
import { type Quarantine, StateStore } from '../../aws/state-store';
import { driftAttemptOf } from '../../evaluate-drift/execution';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  outputFormatFrom,
  parseCommandLine,
  quoted,
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
  'for it. `list` shows every quarantine with its cause; `lift` removes one, and moves the',
  'drift whose execution was rolled back to its next attempt, so that its next detection',
  "starts a new remediation (Step Functions refuses an ended execution's name for 90 days).",
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

/**
 * Lifts one quarantine and moves its execution's drift to the next attempt (see the module
 * notes for the order). Exit code 0, or 1 when there is no such quarantine.
 */
async function liftOne(
  store: StateStore,
  lift: { fleet: string; template: string; version: number },
  io: CliIo,
): Promise<number> {
  const missing = () => {
    io.stderr(
      `phoenix quarantine lift: no quarantine for fleet ${lift.fleet}, ${lift.template} v${lift.version} (see phoenix quarantine list)`,
    );
    return 1;
  };
  const quarantine = await store.getQuarantine(lift.fleet, lift.template, lift.version);
  if (quarantine === undefined) return missing();
  const drift = driftAttemptOf(quarantine.execution);
  const next =
    drift === undefined
      ? undefined
      : await store.nextAttempt(drift.instanceId, drift.fingerprint, drift.attempt);
  if (!(await store.liftQuarantine(lift.fleet, lift.template, lift.version))) return missing();
  io.stdout(
    `Lifted the quarantine of ${lift.template} v${lift.version} for fleet ${lift.fleet}: the next detection may remediate with it again.`,
  );
  if (drift === undefined) {
    io.stdout(
      `Its execution ${quarantine.execution} is not named <instance>-<fingerprint>-<attempt>: no drift attempt to move.`,
    );
  } else {
    io.stdout(
      `The drift ${drift.fingerprint} of ${drift.instanceId} (execution ${drift.execution}, rolled back as attempt ${drift.attempt}) is now at attempt ${next}: its next detection starts a new remediation.`,
    );
  }
  return 0;
}

/** `phoenix quarantine list|lift ...` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine('quarantine', argv, OPTIONS, USAGE, io, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== 'list' && action !== 'lift')) {
    io.stderr(
      `phoenix quarantine: expected "list" or "lift"${positionals.length === 0 ? '' : `, not ${positionals.map((p) => quoted(p)).join(' ')}`} (phoenix quarantine --help lists what it takes)`,
    );
    return 1;
  }
  const format = outputFormatFrom(values);
  // Each flag belongs to one action: a flag the action ignores is a mistake to point out.
  const foreign = (action === 'list' ? (['template', 'version'] as const) : (['format'] as const)).find(
    (flag) => values[flag] !== undefined,
  );
  if (foreign !== undefined) {
    io.stderr(
      `phoenix quarantine ${action}: --${foreign} is for ${action === 'list' ? 'lift' : 'list'}, not ${action}`,
    );
    return 1;
  }
  let lift: { fleet: string; template: string; version: number } | undefined;
  if (action === 'lift') {
    const missing = (['fleet', 'template', 'version'] as const).filter((flag) => values[flag] === undefined);
    if (values.fleet === undefined || values.template === undefined || values.version === undefined) {
      io.stderr(
        `phoenix quarantine lift: needs --fleet NAME, --template LT_ID and --version N (missing: ${missing.map((f) => `--${f}`).join(', ')})`,
      );
      return 1;
    }
    lift = { fleet: values.fleet, template: values.template, version: Number(values.version) };
  }
  const table = requiredStateTable('quarantine', values, io);
  if (table === undefined) return 1;
  const clientOptions = awsClientOptions('quarantine', values, io);
  if (clientOptions === undefined) return 1;

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
    return await liftOne(store, lift, io);
  } catch (error) {
    io.stderr(`phoenix quarantine: table ${table}: ${describeError(error)}`);
    return 1;
  } finally {
    clients.destroy();
  }
}
