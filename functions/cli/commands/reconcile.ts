/**
 * `phoenix reconcile --desired-state FILE`: detection and remediation, run here, until every
 * drifted instance of the declared fleets is converged or reported.
 *
 * The command reads its options and runs the local account (`functions/local/`): the
 * {@link Reconciler} sweeps with the evaluator's own core and runs the executions it starts
 * through the real state machine definition, against whatever endpoint the SDK is configured
 * for; the report is `local/report.ts`, its text `local/render-report.ts`.
 *
 * The JSON report is documented in docs/cli/reconcile.md and versioned (`schemaVersion`).
 */
import { makeClients } from '../../aws/clients';
import { PhoenixError } from '../../domain/errors';
import { ProgressPrinter } from '../../local/progress';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_ROUNDS,
  Reconciler,
  type ReconcilerOptions,
} from '../../local/reconciler';
import { renderReport } from '../../local/render-report';
import { DEFAULT_TABLE_NAME, ensureStateTable } from '../../local/state-table';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  loadDesiredStateFor,
  outputFormatFrom,
  parseCommandLine,
  requiredDesiredStateFile,
  STATE_TABLE_OPTION,
  stateTableFrom,
  topicArnFrom,
} from '../command-line';
import type { CliIo } from '../io';

export const EXIT_CONVERGED = 0;
export const EXIT_ERROR = 1;
export const EXIT_NOT_CONVERGED = 2;

const HELP = `Usage: phoenix reconcile --desired-state FILE [--format text|json] [--region REGION]
                         [--endpoint URL] [--table NAME] [--topic-arn ARN]
                         [--concurrency N] [--max-rounds N] [--real-waits]

Detects drift with the evaluator's own sweep and remediates it with the real state
machine, run locally against the account the AWS SDK is configured for, round after
round until nothing is left to do. Budgets (leases) and windows are respected.

Options:
  --desired-state FILE  the desired-state file (phoenix.yaml)
  --format text|json    report format (default: text); JSON is documented in docs/cli/reconcile.md
${awsOptionsUsage(24)}
  --table NAME          the state table of the deployed Phoenix stack (default: $PHOENIX_TABLE_NAME;
                        without either, a local table ${DEFAULT_TABLE_NAME} is created if missing)
  --topic-arn ARN       publish notifications to this topic (default: $PHOENIX_TOPIC_ARN;
                        without either, notifications are listed in the report only)
  --concurrency N       executions at once, all fleets together (default ${DEFAULT_CONCURRENCY});
                        never more than a fleet's maxConcurrent for one fleet
  --max-rounds N        sweeps at most (default ${DEFAULT_MAX_ROUNDS})
  --real-waits          run the state machine's Wait states as defined (health-check interval,
                        deregistration delay, window). Implied unless the endpoint is on this
                        machine (an emulated account), where waits are instant.

Exit status: 0 converged, 2 something is left drifted (blocked, rolled back, held…), 1 error.`;

const OPTIONS = {
  'desired-state': { type: 'string' },
  format: { type: 'string' },
  ...AWS_OPTIONS,
  ...STATE_TABLE_OPTION,
  'topic-arn': { type: 'string' },
  concurrency: { type: 'string' },
  'max-rounds': { type: 'string' },
  'real-waits': { type: 'boolean' },
} as const;

/** Whether the endpoint is on this machine: only there are instant waits safe. */
export function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined || endpoint === '') return false;
  try {
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** A number flag, checked whole and ≥ 1 with the other flags; the default when it is absent. */
function countFrom(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : Number(text);
}

/** Runs `phoenix reconcile`; returns the exit code (0 converged, 2 not converged, 1 error). */
export async function run(argv: string[], io: CliIo): Promise<number> {
  // Help and usage errors exit 0 or 1, which are EXIT_CONVERGED and EXIT_ERROR.
  const parsed = parseCommandLine('reconcile', argv, OPTIONS, HELP, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const file = requiredDesiredStateFile('reconcile', values, io);
  if (file === undefined) return EXIT_ERROR;
  const format = outputFormatFrom(values);
  const concurrency = countFrom(values.concurrency, DEFAULT_CONCURRENCY);
  const maxRounds = countFrom(values['max-rounds'], DEFAULT_MAX_ROUNDS);
  const clientOptions = awsClientOptions('reconcile', values, io);
  if (clientOptions === undefined) return EXIT_ERROR;
  const named = stateTableFrom('reconcile', values, io);
  if (named === undefined) return EXIT_ERROR;
  const topic = topicArnFrom('reconcile', values, io);
  if (topic === undefined) return EXIT_ERROR;

  const desired = await loadDesiredStateFor('reconcile', file, io);
  if (desired === undefined) return EXIT_ERROR;

  const endpoint = values.endpoint ?? io.env.AWS_ENDPOINT_URL;
  const clients = makeClients(clientOptions);
  const namedTable = named.table;
  const tableName = namedTable ?? DEFAULT_TABLE_NAME;
  const topicArn = topic.topicArn;
  const waits = values['real-waits'] === true || !isLocalEndpoint(endpoint) ? 'real' : 'zero';
  // Progress goes where it does not spoil the report: stdout for text, stderr for JSON.
  const progress =
    format === 'text'
      ? new ProgressPrinter((text) => io.stdout(text), io.isTTY)
      : new ProgressPrinter((text) => io.stderr(text), false);

  try {
    const region = await clients.ec2.config.region();
    const created = await ensureStateTable(clients.dynamodb, tableName, {
      create: namedTable === undefined,
    });
    const note = (text: string) => (format === 'text' ? io.stdout(text) : io.stderr(text));
    if (created) note(`Created the local state table ${tableName} on ${endpoint ?? `AWS (${region})`}.`);
    if (waits === 'real' && values['real-waits'] !== true) {
      note('Talking to AWS itself: the state machine waits as defined (health checks, draining, windows).');
    }
    const options: ReconcilerOptions = {
      desiredState: desired,
      clients,
      tableName,
      region,
      waits,
      concurrency,
      maxRounds,
      onProgress: progress.onProgress,
      file,
    };
    if (topicArn !== undefined) options.topicArn = topicArn;
    if (endpoint !== undefined && endpoint !== '') options.endpoint = endpoint;
    const report = await new Reconciler(options).reconcile();
    progress.stop();
    io.stdout(format === 'json' ? JSON.stringify(report, null, 2) : `\n${renderReport(report)}`);
    if (report.errors.length > 0) return EXIT_ERROR;
    return report.converged ? EXIT_CONVERGED : EXIT_NOT_CONVERGED;
  } catch (error) {
    progress.stop();
    const message = error instanceof PhoenixError ? error.message : describeError(error);
    io.stderr(`phoenix reconcile: ${message}`);
    return EXIT_ERROR;
  } finally {
    clients.destroy();
  }
}
