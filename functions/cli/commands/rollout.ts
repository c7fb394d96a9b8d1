/**
 * `phoenix rollout list | approve | halt | resume`: the operator's hand on a fleet's rollout
 * (issue 15, docs/cli/rollout.md).
 *
 * A rollout is one source change of one fleet (a launch template version and its image)
 * rolling through the fleet's drifted instances: canary, bake, approval, rolling. `list`
 * shows each with its stage, progress, failures and why it waits; `approve`, `halt` and
 * `resume` act on the fleet's current rollout (the one that began last), each a write
 * conditional on the stage it read, so two operators (or an operator and the sweeper) never
 * both move it. A halt quarantines the version; a resume lifts that quarantine and, as
 * `phoenix quarantine lift` does, first moves the rolled-back drift it names to its next
 * attempt, so its next detection starts a new remediation.
 */
import { makeClients } from '../../aws/clients';
import { RolloutCatalog } from '../../aws/rollout-catalog';
import {
  RolloutNotFoundError,
  type RolloutRecord,
  RolloutStageError,
  type RolloutStore,
  sourceText,
} from '../../aws/rollout-store';
import { StateStore } from '../../aws/state-store';
import { failuresCounted, haltText, recordedWait } from '../../domain/rollout/stage';
import { driftAttemptOf } from '../../evaluate-drift/execution';
import {
  AWS_OPTIONS,
  awsClientOptions,
  awsOptionsUsage,
  describeError,
  outputFormatFrom,
  parseCommandLine,
  quoted,
  requiredFlag,
  requiredStateTable,
  STATE_TABLE_OPTION,
} from '../command-line';
import type { CliIo } from '../io';

const OPTIONS = {
  ...STATE_TABLE_OPTION,
  ...AWS_OPTIONS,
  fleet: { type: 'string' },
  format: { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
} as const;

const ACTIONS = ['list', 'approve', 'halt', 'resume'] as const;
type Action = (typeof ACTIONS)[number];

/** The flags each action takes besides --table, --region and --endpoint. */
const FLAGS_OF: Readonly<Record<Action, readonly string[]>> = {
  list: ['fleet', 'format'],
  approve: ['fleet', 'by'],
  halt: ['fleet', 'by', 'reason'],
  resume: ['fleet', 'by'],
};

const USAGE = [
  'Usage: phoenix rollout list [--fleet NAME] [--format text|json]',
  '       phoenix rollout approve --fleet NAME [--by NAME]',
  '       phoenix rollout halt --fleet NAME [--reason TEXT] [--by NAME]',
  '       phoenix rollout resume --fleet NAME [--by NAME]',
  '       (each also: [--table NAME] [--region REGION] [--endpoint URL])',
  '',
  'A rollout is one source change of a fleet (its launch template version and image) rolling',
  'through it: canary, bake, approval, then the rest under the budget. `list` shows each',
  "rollout's stage, progress, failures and why it waits; `approve` lets a rollout awaiting",
  'approval go on; `halt` stops it (its version is quarantined, nothing more starts);',
  '`resume` sends a halted rollout back to the stage it halted in, its failure budget given',
  'back and its quarantine lifted.',
  '',
  'Options:',
  '  --fleet NAME       the fleet (list: only this fleet)',
  '  --format text|json output format for list (default: text)',
  '  --reason TEXT      halt: why, recorded and told to the team',
  '  --by NAME          who acts, recorded (default: $USER)',
  '  --table NAME       the state table (default: $PHOENIX_TABLE_NAME)',
  awsOptionsUsage(21),
  '',
  'Exit status: 0 done, 1 error (also: no rollout for the fleet, or not in a stage the',
  'action applies to).',
].join('\n');

const MAX_REASON = 500;
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** One rollout as `list --format json` prints it (schemaVersion 1). */
export interface RolloutView {
  fleet: string;
  source: { templateId: string; version: number; imageId?: string };
  stage: RolloutRecord['stage'];
  startedAt: string;
  stageChangedAt: string;
  progress: {
    members: number;
    admitted: number;
    replaced: number;
    rolledBack: number;
    ended: number;
    canary: number;
  };
  failures: { counted: number; maxFailures: number };
  bakeUntil?: string;
  approvedBy?: string;
  halt?: NonNullable<RolloutRecord['halt']> & { text: string };
  /** Why it waits, from its record; null while it admits, or once completed. */
  waitsFor: string | null;
}

/** The view `list` prints of a record. */
export function viewOf(record: RolloutRecord, now: Date): RolloutView {
  const view: RolloutView = {
    fleet: record.fleet,
    source: { ...record.source },
    stage: record.stage,
    startedAt: record.startedAt,
    stageChangedAt: record.stageChangedAt,
    progress: {
      members: record.members,
      admitted: record.admitted,
      replaced: record.replaced,
      rolledBack: record.rolledBack,
      ended: record.ended,
      canary: record.canary,
    },
    failures: { counted: failuresCounted(record), maxFailures: record.maxFailures },
    waitsFor: recordedWait(record, now) ?? null,
  };
  if (record.bakeUntil !== undefined) view.bakeUntil = record.bakeUntil;
  if (record.approvedBy !== undefined) view.approvedBy = record.approvedBy;
  if (record.halt !== undefined) view.halt = { ...record.halt, text: haltText(record.halt.cause) };
  return view;
}

function sourceLine(view: RolloutView): string {
  const source = sourceText(view.source);
  return view.source.imageId === undefined ? source : `${source} (${view.source.imageId})`;
}

function textOf(view: RolloutView): string {
  const p = view.progress;
  const lines = [
    `${view.fleet}  ${sourceLine(view)}  ${view.stage}  replaced ${p.replaced} / admitted ${p.admitted} / members ${p.members}  failures ${view.failures.counted} of at most ${view.failures.maxFailures}`,
    `    since ${view.startedAt}, ${view.stage} since ${view.stageChangedAt}${view.approvedBy === undefined ? '' : `, approved by ${view.approvedBy}`}`,
  ];
  if (view.waitsFor !== null) lines.push(`    waits: ${view.waitsFor}`);
  return lines.join('\n');
}

function operator(values: { by?: string }, io: CliIo): string {
  return values.by ?? (io.env.USER || undefined) ?? (io.env.USERNAME || undefined) ?? 'phoenix-cli';
}

/** `phoenix rollout list|approve|halt|resume ...` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine('rollout', argv, OPTIONS, USAGE, io, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const action = positionals[0] as Action | undefined;
  if (positionals.length !== 1 || action === undefined || !ACTIONS.includes(action)) {
    io.stderr(
      `phoenix rollout: expected list, approve, halt or resume${positionals.length === 0 ? '' : `, not ${positionals.map((p) => quoted(p)).join(' ')}`} (phoenix rollout --help lists what it takes)`,
    );
    return 1;
  }
  const command = `rollout ${action}`;
  // Each flag belongs to some actions: one the action ignores is a mistake to point out.
  const foreign = (['fleet', 'format', 'reason', 'by'] as const).find(
    (flag) => values[flag] !== undefined && !FLAGS_OF[action].includes(flag),
  );
  if (foreign !== undefined) {
    const owners = ACTIONS.filter((a) => FLAGS_OF[a].includes(foreign)).join(', ');
    io.stderr(`phoenix ${command}: --${foreign} is for ${owners}, not ${action}`);
    return 1;
  }
  const reason = values.reason;
  if (reason !== undefined && (reason.length > MAX_REASON || CONTROL.test(reason))) {
    io.stderr(
      `phoenix ${command}: --reason must be one line of at most ${MAX_REASON} characters, not ${quoted(reason)}`,
    );
    return 1;
  }
  const fleet = action === 'list' ? values.fleet : requiredFlag(command, 'fleet', values.fleet, io);
  if (action !== 'list' && fleet === undefined) return 1;
  const table = requiredStateTable(command, values, io);
  if (table === undefined) return 1;
  const clientOptions = awsClientOptions(command, values, io);
  if (clientOptions === undefined) return 1;

  const clients = makeClients(clientOptions);
  try {
    const rollouts = new RolloutCatalog(clients.dynamodb, table);
    const now = new Date();
    switch (action) {
      case 'list': {
        const views = (await rollouts.list(fleet)).map((r) => viewOf(r, now));
        if (outputFormatFrom(values) === 'json') {
          io.stdout(JSON.stringify({ schemaVersion: 1, rollouts: views }, null, 2));
        } else if (views.length === 0) {
          io.stdout(fleet === undefined ? 'No rollouts.' : `No rollouts for fleet ${fleet}.`);
        } else {
          for (const view of views) io.stdout(textOf(view));
        }
        return 0;
      }
      case 'approve': {
        const approved = await rollouts.approve(fleet ?? '', operator(values, io));
        io.stdout(
          `Approved the rollout of ${sourceText(approved.source)} through fleet ${approved.fleet} (by ${approved.approvedBy ?? 'unknown'}): it goes on rolling under the fleet's budget.`,
        );
        return 0;
      }
      case 'halt': {
        const halted = await rollouts.halt(fleet ?? '', operator(values, io), reason);
        io.stdout(
          `Halted the rollout of ${sourceText(halted.source)} through fleet ${halted.fleet} in ${halted.halt?.from ?? 'its stage'} (${recordedWait(halted, now) ?? 'halted'}).`,
        );
        io.stdout(
          `Its version is quarantined and nothing more starts; replacements in flight finish. Undo: phoenix rollout resume --fleet ${halted.fleet}`,
        );
        return 0;
      }
      case 'resume':
        return await resumeFleet(rollouts, new StateStore(clients.dynamodb, table), fleet ?? '', now, io);
    }
  } catch (error) {
    if (error instanceof RolloutNotFoundError || error instanceof RolloutStageError) {
      io.stderr(`phoenix ${command}: ${error.message}`);
      return 1;
    }
    io.stderr(`phoenix ${command}: table ${table}: ${describeError(error)}`);
    return 1;
  } finally {
    clients.destroy();
  }
  return 1;
}

/**
 * Resumes the fleet's halted rollout. The quarantine its halt (or a rollback) put on the
 * version is read first: if it names a rolled-back drift's execution, that drift moves to its
 * next attempt before the resume lifts the quarantine, as `quarantine lift` does (moving it
 * happens once per attempt, so a resume that fails half-way may be run again).
 */
async function resumeFleet(
  rollouts: RolloutStore,
  state: StateStore,
  fleet: string,
  now: Date,
  io: CliIo,
): Promise<number> {
  const current = await rollouts.current(fleet);
  if (current === undefined) throw new RolloutNotFoundError(`fleet ${fleet} has no rollout to resume`);
  if (current.stage !== 'halted') {
    throw new RolloutStageError(
      `the rollout of ${sourceText(current.source)} through fleet ${fleet} is ${current.stage}, not halted: nothing to resume`,
      current.stage,
    );
  }
  const quarantine = await state.getQuarantine(fleet, current.source.templateId, current.source.version);
  const drift = quarantine === undefined ? undefined : driftAttemptOf(quarantine.execution);
  const next =
    drift === undefined
      ? undefined
      : await state.nextAttempt(drift.instanceId, drift.fingerprint, drift.attempt);
  const resumed = await rollouts.resume(fleet);
  const wait = recordedWait(resumed, now);
  io.stdout(
    `Resumed the rollout of ${sourceText(resumed.source)} through fleet ${fleet} in ${resumed.stage}${wait === undefined ? '' : ` (${wait})`}: its failure budget is given back and its version's quarantine lifted.`,
  );
  if (drift !== undefined) {
    io.stdout(
      `The drift ${drift.fingerprint} of ${drift.instanceId} (execution ${drift.execution}, rolled back as attempt ${drift.attempt}) is now at attempt ${next}: its next detection starts a new remediation.`,
    );
  }
  return 0;
}
