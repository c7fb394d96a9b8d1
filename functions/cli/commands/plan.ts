/**
 * `phoenix plan --desired-state FILE`: the blast radius of a desired state, before it is
 * merged. A read-only sweep of the configured account (DescribeInstances,
 * DescribeLaunchTemplateVersions, DescribeAutoScalingGroups, DescribeAlarms of the declared
 * alarms and, with `--table`, reads of the state table): every instance the fleets select,
 * its verdict and reasons, and per fleet what enforcement would do now — how many
 * replacements, in how many waves under the budget, whether the window is open, the
 * rollout's stage, and what would block it.
 *
 * It judges with the evaluator's own code (`Judge`, the drift engine, the source check) and
 * decides with the gate the evaluator and the remediation decide with, so the plan is what
 * they would conclude (`../plan/`: the plan's shape, how it is built, how it is rendered).
 * The JSON output is documented in docs/cli/plan.md and versioned (`schemaVersion`).
 */
import { makeClients } from '../../aws/clients';
import { RolloutStore } from '../../aws/rollout-store';
import { StateStore } from '../../aws/state-store';
import { PhoenixError } from '../../domain/errors';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  loadDesiredStateFor,
  PLAN_FORMAT_OPTION,
  parseCommandLine,
  requiredDesiredStateFile,
  STATE_TABLE_OPTION,
  stateTableFrom,
} from '../command-line';
import type { CliIo } from '../io';
import { buildPlan, EXIT_ERROR, exitCodeOf } from '../plan/build';
import { renderMarkdown } from '../plan/markdown';
import type { PlanDeps, PlanRolloutReader, PlanStateReader } from '../plan/model';
import { renderText } from '../plan/render';

export { buildPlan, EXIT_DRIFT, EXIT_ERROR, EXIT_NO_DRIFT, exitCodeOf } from '../plan/build';
export type {
  Blocker,
  FleetEnforcement,
  FleetPlan,
  FleetRollout,
  NotReplaceable,
  Plan,
  PlanDeps,
  PlannedInstance,
  PlanStateReader,
} from '../plan/model';
export { PLAN_SCHEMA_VERSION } from '../plan/model';
export { renderText } from '../plan/render';

const HELP = `Usage: phoenix plan --desired-state FILE [--format text|json|markdown] [--table NAME]
                    [--region REGION] [--endpoint URL]

Read-only: judges every instance the desired state's fleets select, against the
account the AWS SDK is configured for, and says what enforcement would do now.

Options:
  --desired-state FILE  the desired-state file (phoenix.yaml)
  --format FORMAT       text (default), json (documented in docs/cli/plan.md), or markdown
                        (a pull-request comment)
  --table NAME          Phoenix's state table, to read the pause switch, quarantines and
                        rollouts (default: $PHOENIX_TABLE_NAME; without it they are reported
                        unknown)
${awsOptionsUsage(24)}

Exit status: 0 no drift, 2 drift found, 1 error.`;

/** The table's reads, with the table named in what they throw (a wrong `--table` is the usual cause). */
function stateReaderOf(store: StateStore, table: string): PlanStateReader {
  const named = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      throw new PhoenixError(`state table ${table}: ${describeError(error)}`, { cause: error });
    }
  };
  return {
    isPaused: () => named(() => store.isPaused()),
    getQuarantine: (fleet, templateId, version) =>
      named(() => store.getQuarantine(fleet, templateId, version)),
  };
}

/** The rollout records' reads, with the table named in what they throw. */
function rolloutReaderOf(store: RolloutStore, table: string): NonNullable<PlanRolloutReader['rollouts']> {
  const named = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      throw new PhoenixError(`state table ${table}: ${describeError(error)}`, { cause: error });
    }
  };
  return {
    get: (fleet, source) => named(() => store.get(fleet, source)),
    list: (fleet) => named(() => store.list(fleet)),
  };
}

const OPTIONS = {
  'desired-state': { type: 'string' },
  ...PLAN_FORMAT_OPTION,
  ...STATE_TABLE_OPTION,
  ...AWS_OPTIONS,
} as const;

/** Runs `phoenix plan`; returns the exit code (0 no drift, 2 drift, 1 error). */
export async function run(argv: string[], io: CliIo): Promise<number> {
  // Help and usage errors exit 1 or 0, which are EXIT_ERROR and EXIT_NO_DRIFT.
  const parsed = parseCommandLine('plan', argv, OPTIONS, HELP, io);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const file = requiredDesiredStateFile('plan', values, io);
  if (file === undefined) return EXIT_ERROR;
  const format = values.format ?? 'text';
  const clientOptions = awsClientOptions('plan', values, io);
  if (clientOptions === undefined) return EXIT_ERROR;
  const named = stateTableFrom('plan', values, io);
  if (named === undefined) return EXIT_ERROR;
  const table = named.table;
  const desired = await loadDesiredStateFor('plan', file, io);
  if (desired === undefined) return EXIT_ERROR;

  const clients = makeClients(clientOptions);
  try {
    const deps: PlanDeps = { ec2: clients.ec2, autoScaling: clients.autoScaling, now: new Date() };
    deps.rollout = { cloudwatch: clients.cloudwatch };
    if (table !== undefined) {
      deps.state = stateReaderOf(new StateStore(clients.dynamodb, table), table);
      deps.rollout.rollouts = rolloutReaderOf(new RolloutStore(clients.dynamodb, table), table);
    }
    const plan = await buildPlan(desired, file, deps);
    io.stdout(
      format === 'json'
        ? JSON.stringify(plan, null, 2)
        : format === 'markdown'
          ? renderMarkdown(plan)
          : renderText(plan),
    );
    return exitCodeOf(plan);
  } catch (error) {
    io.stderr(`phoenix plan: could not read the account: ${describeError(error)}`);
    return EXIT_ERROR;
  } finally {
    clients.destroy();
  }
}
