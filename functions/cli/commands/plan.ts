/**
 * `phoenix plan --desired-state FILE`: the blast radius of a desired state, before it is
 * merged. A read-only sweep of the configured account (DescribeInstances,
 * DescribeLaunchTemplateVersions, DescribeAutoScalingGroups and, with `--table`, reads of
 * the state table): every instance the fleets select, its verdict and reasons, and per
 * fleet what enforcement would do now — how many replacements, in how many waves under the
 * budget, whether the window is open, and what would block it.
 *
 * It judges with the evaluator's own code (`Judge`, the drift engine, the source check), so
 * the plan is what the deployed evaluator would conclude. The JSON output is documented in
 * docs/cli/plan.md and versioned (`schemaVersion`).
 */
import type { AutoScalingClient, AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { makeClients } from '../../aws/clients';
import {
  AutoScalingGroupNotFoundError,
  describeAutoScalingGroup,
  listFleetInstances,
  sourceOfGroup,
} from '../../aws/inventory';
import { StateStore } from '../../aws/state-store';
import { concurrencyLimit, concurrencyText } from '../../domain/budget';
import { autoScalingGroupOf } from '../../domain/drift/match';
import { checkSource } from '../../domain/drift/source-check';
import { InvalidInputError, PhoenixError } from '../../domain/errors';
import { type Headroom, headroomOf } from '../../domain/headroom';
import type {
  CompiledDesiredState,
  CompiledFleet,
  DriftReason,
  InstanceFacts,
  LaunchTemplateFacts,
} from '../../domain/model';
import { isWindowOpen, nextWindowOpening } from '../../domain/window';
import { describeReasons } from '../../evaluate-drift/evaluations';
import { Judge, type Judgement } from '../../evaluate-drift/judge';
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
import { renderMarkdown } from '../plan/markdown';

/** Version of the JSON output; bumped only on a breaking change. */
export const PLAN_SCHEMA_VERSION = 1;

export const EXIT_NO_DRIFT = 0;
export const EXIT_ERROR = 1;
export const EXIT_DRIFT = 2;

const HELP = `Usage: phoenix plan --desired-state FILE [--format text|json|markdown] [--table NAME]
                    [--region REGION] [--endpoint URL]

Read-only: judges every instance the desired state's fleets select, against the
account the AWS SDK is configured for, and says what enforcement would do now.

Options:
  --desired-state FILE  the desired-state file (phoenix.yaml)
  --format FORMAT       text (default), json (documented in docs/cli/plan.md), or markdown
                        (a pull-request comment)
  --table NAME          Phoenix's state table, to read the pause switch and quarantines
                        (default: $PHOENIX_TABLE_NAME; without it both are reported unknown)
${awsOptionsUsage(24)}

Exit status: 0 no drift, 2 drift found, 1 error.`;

/** One instance a fleet selects, as the plan shows it. */
export interface PlannedInstance {
  instanceId: string;
  state: string;
  verdict: 'in-sync' | 'drifted' | 'excluded' | 'not-applicable' | 'outside';
  fingerprint: string | null;
  reasons: DriftReason[];
  /** Why the verdict is excluded / not-applicable / outside; null otherwise. */
  why: string | null;
  /**
   * For a drifted running member enforcement cannot replace, why not (null otherwise): it is
   * not InService in its group, it has no launch template or subnet to rebuild it from, or
   * its group leaves no headroom under the fleet's budget.
   */
  notReplaceable: NotReplaceable | null;
  /**
   * Other fleets whose selector matches the instance too, each with why it does not govern
   * it. The instance is listed once, under the fleet that governs it (the one `findFleet`
   * picks, as the evaluator and the remediation do), or for an ambiguous match under the
   * first fleet that selects it.
   */
  alsoSelectedBy: { fleet: string; why: string }[];
}

/** Why a drifted instance cannot be replaced, and what would let it be. */
export interface NotReplaceable {
  code: 'not-in-service' | 'no-launch-template' | 'no-subnet' | 'no-headroom' | 'pinned';
  why: string;
}

export type Blocker =
  | 'mode-observe'
  | 'mode-notify'
  | 'template-unresolved'
  | 'source-drift'
  | 'source-unchecked'
  | 'quarantined'
  | 'paused';

/** What enforcement would do for one fleet, now. */
export interface FleetEnforcement {
  /** Members judged drifted (any state). */
  drifted: number;
  /** Drifted members that would be replaced now: running, replaceable, and nothing blocks the fleet. */
  replacements: number;
  /** Drifted running members that cannot be replaced (each says why: `notReplaceable`). */
  notReplaceable: number;
  /**
   * `ceil(replacements / maxConcurrent)`; for a group at MaxSize, whose replacements each take
   * their old instance out first, `ceil(replacements / min(maxConcurrent, dips the budget allows))`.
   */
  waves: number;
  /**
   * How an Auto Scaling fleet's group makes room: `surge` (below MaxSize: launch first),
   * `standby-first` (at MaxSize: the old instance goes out first), `none` (no replacement can
   * happen); null for a tag fleet or a group that could not be read.
   */
  headroom: 'surge' | 'standby-first' | 'none' | null;
  /** Replacements in flight at most now: the budget resolved against the fleet's size. */
  maxConcurrent: number;
  /** The budget as declared: `3`, or a share of the fleet such as `10%`. */
  maxConcurrentDeclared: string;
  minHealthyPercent: number;
  window: { declared: boolean; timezone: string | null; openNow: boolean; nextOpening: string | null };
  sourceDrift: { checked: boolean; drifted: boolean; reasons: DriftReason[]; problem: string | null };
  /** `unknown` when the state table was not read (no `--table`). */
  quarantine: 'none' | 'quarantined' | 'unknown';
  /** Why and since when, as the rollback that quarantined the version recorded it; null when not quarantined. */
  quarantineCause: string | null;
  paused: boolean | null;
  blockedBy: Blocker[];
}

export interface FleetPlan {
  name: string;
  mode: CompiledFleet['mode'];
  team: string;
  launchTemplate: { id: string; name: string; version: number } | null;
  launchTemplateProblem: string | null;
  instances: PlannedInstance[];
  enforcement: FleetEnforcement;
}

/** The whole plan; `JSON.stringify` of this is the `--format json` output. */
export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  generatedAt: string;
  desiredState: { file: string; path: string; revision: string; commit: string; sha256: string };
  summary: {
    fleets: number;
    instances: number;
    inSync: number;
    drifted: number;
    excluded: number;
    notApplicable: number;
    outside: number;
    replacements: number;
    notReplaceable: number;
  };
  fleets: FleetPlan[];
}

/** Read-only access to the state table, when the operator named it. */
export interface PlanStateReader {
  isPaused(): Promise<boolean>;
  getQuarantine(
    fleet: string,
    templateId: string,
    version: number,
  ): Promise<{ at: string; cause: string } | undefined>;
}

/**
 * What a fresh instance of the fleet would look like, as detection and the recheck judge it:
 * for an Auto Scaling fleet, built from the version the group itself launches with the tags
 * it propagates. A group on a launch configuration cannot be checked (PhoenixError).
 */
async function sourceCheckOf(
  fleet: CompiledFleet,
  template: LaunchTemplateFacts,
  deps: PlanDeps,
  group: AutoScalingGroup | undefined,
): Promise<ReturnType<typeof checkSource>> {
  if (fleet.match.kind !== 'autoScalingGroup')
    return checkSource({ fleet, template, propagatedTags: {}, now: deps.now });
  if (group === undefined) {
    throw new AutoScalingGroupNotFoundError(
      `Auto Scaling group ${fleet.match.autoScalingGroup} does not exist`,
    );
  }
  const source = await sourceOfGroup(deps.ec2, group, { spec: fleet.launchTemplate, facts: template });
  if (source.template === undefined) {
    throw new InvalidInputError(
      `Auto Scaling group ${fleet.match.autoScalingGroup} launches from a launch configuration, not a launch template: a replacement would not be built from what Git declares`,
    );
  }
  return checkSource({
    fleet,
    template,
    propagatedTags: source.propagatedTags,
    now: deps.now,
    groupTemplate: source.template,
  });
}

/**
 * Why enforcement cannot replace this drifted running member, as the remediation's plan step
 * would find (functions/remediation/steps.ts `plan`): null when it can.
 */
function notReplaceableOf(
  instance: InstanceFacts,
  fleet: CompiledFleet,
  group: AutoScalingGroup | undefined,
  headroom: Headroom | undefined,
): NotReplaceable | null {
  if (fleet.match.kind === 'autoScalingGroup') {
    if (group === undefined) return null; // the fleet is blocked: its source cannot be checked
    const name = fleet.match.autoScalingGroup;
    const member = group.Instances?.find((i) => i.InstanceId === instance.instanceId);
    if (member?.LifecycleState !== 'InService') {
      return {
        code: 'not-in-service',
        why:
          member === undefined
            ? `instance ${instance.instanceId} is not a member of Auto Scaling group ${name} any more: someone else is managing it`
            : `instance ${instance.instanceId} is ${member.LifecycleState ?? 'in an unknown state'} in Auto Scaling group ${name}, not InService: someone else is managing it; it is replaced once it is back in service`,
      };
    }
    return headroom?.kind === 'none' ? { code: headroom.code, why: headroom.why } : null;
  }
  if (instance.subnetId === undefined) {
    return {
      code: 'no-subnet',
      why: `instance ${instance.instanceId} has no subnet: Phoenix cannot launch its replacement in the same place`,
    };
  }
  if (instance.launchTemplate === undefined) {
    return {
      code: 'no-launch-template',
      why: `instance ${instance.instanceId} was not launched from a launch template and is in no Auto Scaling group: a fresh instance may not replace it like for like (volumes, interfaces, addresses); replace it by hand`,
    };
  }
  return null;
}

export interface PlanDeps {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  state?: PlanStateReader;
  now: Date;
}

function planned(judgement: Judgement): PlannedInstance {
  const { instance } = judgement;
  const base = {
    instanceId: instance.instanceId,
    state: instance.state,
    notReplaceable: null,
    alsoSelectedBy: [],
  };
  if (judgement.kind === 'outside') {
    return { ...base, verdict: 'outside', fingerprint: null, reasons: [], why: judgement.why };
  }
  if (judgement.kind === 'excluded') {
    return { ...base, verdict: 'excluded', fingerprint: null, reasons: [], why: judgement.why };
  }
  const { verdict } = judgement;
  switch (verdict.status) {
    case 'in-sync':
      return { ...base, verdict: 'in-sync', fingerprint: null, reasons: [], why: null };
    case 'drifted':
      return {
        ...base,
        verdict: 'drifted',
        fingerprint: verdict.fingerprint,
        reasons: verdict.reasons,
        why: null,
      };
    case 'not-applicable':
      return {
        ...base,
        verdict: 'not-applicable',
        fingerprint: null,
        reasons: [],
        why: judgement.templateProblem ?? verdict.why,
      };
  }
}

/** One instance as a fleet lists it: its facts, its judgement, the other fleets that select it. */
interface Listed {
  instance: InstanceFacts;
  judgement: Judgement;
  alsoSelectedBy: PlannedInstance['alsoSelectedBy'];
}

async function planFleet(
  fleet: CompiledFleet,
  listed: readonly Listed[],
  judge: Judge,
  deps: PlanDeps,
): Promise<FleetPlan> {
  const group =
    fleet.match.kind === 'autoScalingGroup'
      ? await describeAutoScalingGroup(deps.autoScaling, fleet.match.autoScalingGroup)
      : undefined;
  const headroom =
    group === undefined
      ? undefined
      : headroomOf(
          {
            name: group.AutoScalingGroupName ?? '',
            desired: group.DesiredCapacity ?? 0,
            min: group.MinSize ?? 0,
            max: group.MaxSize ?? 0,
          },
          fleet.budget.minHealthyPercent,
        );
  const rows: PlannedInstance[] = listed.map(({ instance, judgement, alsoSelectedBy }) => {
    const row = planned(judgement);
    row.alsoSelectedBy = alsoSelectedBy;
    // The evaluator replaces running instances only (see evaluate-drift/core.ts).
    if (row.verdict === 'drifted' && row.state === 'running') {
      row.notReplaceable = notReplaceableOf(instance, fleet, group, headroom);
    }
    return row;
  });
  rows.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));

  const lookup = await judge.template(fleet);
  const template = lookup.ok ? lookup.facts : undefined;
  const blockedBy: Blocker[] = [];
  if (fleet.mode !== 'enforce') blockedBy.push(fleet.mode === 'observe' ? 'mode-observe' : 'mode-notify');

  const sourceDrift: FleetEnforcement['sourceDrift'] = {
    checked: false,
    drifted: false,
    reasons: [],
    problem: null,
  };
  let quarantine: FleetEnforcement['quarantine'] = deps.state === undefined ? 'unknown' : 'none';
  let quarantineCause: string | null = null;
  if (template === undefined) {
    blockedBy.push('template-unresolved');
  } else {
    try {
      const check = await sourceCheckOf(fleet, template, deps, group);
      sourceDrift.checked = true;
      if (!check.ok) {
        sourceDrift.drifted = true;
        sourceDrift.reasons = check.reasons;
        blockedBy.push('source-drift');
      }
    } catch (error) {
      if (!(error instanceof PhoenixError)) throw error;
      sourceDrift.problem = error.message;
      blockedBy.push('source-unchecked');
    }
    if (deps.state !== undefined) {
      const found = await deps.state.getQuarantine(fleet.name, template.id, template.version);
      if (found !== undefined) {
        quarantine = 'quarantined';
        quarantineCause = `since ${found.at}: ${found.cause}`;
        blockedBy.push('quarantined');
      }
    }
  }
  const paused = deps.state === undefined ? null : await deps.state.isPaused();
  if (paused === true) blockedBy.push('paused');

  const drifted = rows.filter((r) => r.verdict === 'drifted');
  const notReplaceable = drifted.filter((r) => r.notReplaceable !== null).length;
  const replaceable = drifted.filter((r) => r.state === 'running' && r.notReplaceable === null).length;
  const replacements = blockedBy.length > 0 ? 0 : replaceable;
  // A percentage is of the fleet's current size; at MaxSize each replacement dips capacity by
  // one, so the budget also caps how many go at once.
  const maxConcurrent = concurrencyLimit(fleet.budget.maxConcurrent, rows.length);
  const atOnce = headroom?.kind === 'standby-first' ? Math.min(maxConcurrent, headroom.dips) : maxConcurrent;
  const opensAt = nextWindowOpening(fleet.window, deps.now);
  return {
    name: fleet.name,
    mode: fleet.mode,
    team: fleet.team,
    launchTemplate:
      template === undefined ? null : { id: template.id, name: template.name, version: template.version },
    launchTemplateProblem: lookup.ok ? null : lookup.why,
    instances: rows,
    enforcement: {
      drifted: drifted.length,
      replacements,
      notReplaceable,
      waves: Math.ceil(replacements / atOnce),
      headroom: headroom?.kind ?? null,
      maxConcurrent,
      maxConcurrentDeclared: concurrencyText(fleet.budget.maxConcurrent),
      minHealthyPercent: fleet.budget.minHealthyPercent,
      window: {
        declared: fleet.window !== undefined,
        timezone: fleet.window?.timezone ?? null,
        openNow: isWindowOpen(fleet.window, deps.now),
        nextOpening: fleet.window === undefined ? null : opensAt.toISOString(),
      },
      sourceDrift,
      quarantine,
      quarantineCause,
      paused,
      blockedBy,
    },
  };
}

/** Why a fleet whose selector matches an instance does not govern it. */
function whyNotGoverning(other: CompiledFleet, instance: InstanceFacts, judgement: Judgement): string {
  const governs = judgement.kind === 'outside' ? undefined : judgement.fleet.name;
  const group = autoScalingGroupOf(instance);
  if (other.match.kind === 'tags' && group !== undefined) {
    return `fleet ${other.name}'s tags match too, but a tag fleet selects standalone instances only and this one is in Auto Scaling group ${group}${
      governs === undefined ? '' : `: fleet ${governs} governs it`
    }`;
  }
  return governs === undefined
    ? `fleet ${other.name} selects it too: with more than one fleet selecting it, Phoenix acts on none`
    : `fleet ${other.name} selects it too, but fleet ${governs} governs it`;
}

/**
 * Builds the plan: each fleet's instances (server-side filtered, paginated), each judged
 * once against all fleets as the evaluator does, and listed once: under the fleet that
 * governs it (an excluded one under the fleet that excludes it), or, when no fleet does,
 * under the first fleet whose selector found it. Other fleets whose selector found it are
 * named on its row with why they do not govern it.
 */
export async function buildPlan(desired: CompiledDesiredState, file: string, deps: PlanDeps): Promise<Plan> {
  const judge = new Judge(deps.ec2, desired.fleets, deps.now);
  const found = new Map<string, { instance: InstanceFacts; listedBy: CompiledFleet[] }>();
  for (const fleet of desired.fleets) {
    for (const instance of await listFleetInstances(deps.ec2, fleet)) {
      const entry = found.get(instance.instanceId);
      if (entry === undefined) found.set(instance.instanceId, { instance, listedBy: [fleet] });
      else entry.listedBy.push(fleet);
    }
  }
  const byFleet = new Map<string, Listed[]>(desired.fleets.map((fleet) => [fleet.name, []]));
  for (const { instance, listedBy } of found.values()) {
    const judgement = await judge.judge(instance);
    const home = judgement.kind === 'outside' ? listedBy[0]?.name : judgement.fleet.name;
    if (home === undefined) continue;
    const alsoSelectedBy = listedBy
      .filter((fleet) => fleet.name !== home)
      .map((fleet) => ({ fleet: fleet.name, why: whyNotGoverning(fleet, instance, judgement) }));
    byFleet.get(home)?.push({ instance, judgement, alsoSelectedBy });
  }
  const fleets: FleetPlan[] = [];
  for (const fleet of desired.fleets) {
    fleets.push(await planFleet(fleet, byFleet.get(fleet.name) ?? [], judge, deps));
  }
  const unique = new Map<string, PlannedInstance>();
  for (const fleet of fleets) for (const row of fleet.instances) unique.set(row.instanceId, row);
  const rows = [...unique.values()];
  const count = (verdict: PlannedInstance['verdict']) => rows.filter((r) => r.verdict === verdict).length;
  return {
    schemaVersion: PLAN_SCHEMA_VERSION,
    generatedAt: deps.now.toISOString(),
    desiredState: {
      file,
      path: desired.provenance.path,
      revision: desired.revision,
      commit: desired.provenance.commit,
      sha256: desired.provenance.sha256,
    },
    summary: {
      fleets: fleets.length,
      instances: rows.length,
      inSync: count('in-sync'),
      drifted: count('drifted'),
      excluded: count('excluded'),
      notApplicable: count('not-applicable'),
      outside: count('outside'),
      replacements: fleets.reduce((sum, f) => sum + f.enforcement.replacements, 0),
      notReplaceable: fleets.reduce((sum, f) => sum + f.enforcement.notReplaceable, 0),
    },
    fleets,
  };
}

/** The exit code a plan deserves: 2 when any instance is drifted, else 0. */
export function exitCodeOf(plan: Plan): number {
  return plan.summary.drifted > 0 ? EXIT_DRIFT : EXIT_NO_DRIFT;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const BLOCKER_TEXT: Readonly<Record<Blocker, string>> = {
  'mode-observe': 'mode observe: compliance is recorded, nothing is replaced',
  'mode-notify': 'mode notify: the team is told, nothing is replaced',
  'template-unresolved': 'the launch template cannot be resolved',
  'source-drift': 'SOURCE DRIFT: a fresh instance would itself be drifted; fix Git or the template',
  'source-unchecked': 'the source cannot be checked',
  quarantined: 'the launch template version is quarantined for this fleet',
  paused: 'remediation is paused',
};

/** The text report: an instance table, then what enforcement would do per fleet. */
export function renderText(plan: Plan): string {
  const lines: string[] = [];
  const ds = plan.desiredState;
  lines.push(
    `Desired state ${ds.file} (revision ${ds.revision}, commit ${ds.commit}) at ${plan.generatedAt}`,
    '',
  );

  const rows: string[][] = [['FLEET', 'INSTANCE', 'STATE', 'VERDICT', 'REASONS']];
  for (const fleet of plan.fleets) {
    for (const row of fleet.instances) {
      const details =
        row.reasons.length > 0
          ? row.reasons.map((r) => describeReasons([r]))
          : row.why === null
            ? ['']
            : [row.why];
      const nr = row.notReplaceable;
      // A group-wide reason is said once, under the fleet; an instance's own, on its row.
      if (nr !== null) {
        details.push(
          nr.code === 'no-headroom' || nr.code === 'pinned'
            ? `↳ not replaceable: no headroom in its group (see fleet ${fleet.name} below)`
            : `↳ not replaceable: ${nr.why}`,
        );
      }
      for (const other of row.alsoSelectedBy) details.push(`↳ ${other.why}`);
      const [first = '', ...rest] = details;
      rows.push([fleet.name, row.instanceId, row.state, row.verdict, first]);
      for (const more of rest) rows.push(['', '', '', '', more]);
    }
  }
  if (rows.length === 1) lines.push('No instance is selected by any fleet.');
  else lines.push(...table(rows));

  for (const fleet of plan.fleets) {
    const e = fleet.enforcement;
    const template =
      fleet.launchTemplate === null
        ? `launch template unresolved: ${fleet.launchTemplateProblem ?? 'unknown'}`
        : `launch template ${fleet.launchTemplate.name} (${fleet.launchTemplate.id}) version ${fleet.launchTemplate.version}`;
    lines.push('', `Fleet ${fleet.name} (mode ${fleet.mode}, team ${fleet.team}, ${template})`);
    const cannot = e.notReplaceable === 0 ? '' : `, ${e.notReplaceable} not replaceable`;
    lines.push(
      `  ${plural(fleet.instances.length, 'instance')}, ${e.drifted} drifted → ${plural(e.replacements, 'replacement')} in ${plural(e.waves, 'wave')}${cannot} (maxConcurrent ${e.maxConcurrent}, minHealthyPercent ${e.minHealthyPercent})`,
    );
    if (e.headroom === 'standby-first' && e.drifted > 0) {
      lines.push(
        '  headroom: the group is at MaxSize: each replacement takes its old instance out first (one instance of capacity down meanwhile)',
      );
    }
    const groupWide = new Map<string, number>();
    for (const row of fleet.instances) {
      const nr = row.notReplaceable;
      if (nr !== null && (nr.code === 'no-headroom' || nr.code === 'pinned'))
        groupWide.set(nr.why, (groupWide.get(nr.why) ?? 0) + 1);
    }
    for (const [why, count] of groupWide) lines.push(`  cannot replace ${plural(count, 'instance')}: ${why}`);
    const window = !e.window.declared
      ? 'no maintenance window (always open)'
      : e.window.openNow
        ? `open now (${e.window.timezone})`
        : `closed, opens ${e.window.nextOpening} (${e.window.timezone})`;
    lines.push(`  window: ${window}`);
    const source = e.sourceDrift.drifted
      ? `SOURCE DRIFT: ${describeReasons(e.sourceDrift.reasons)}`
      : e.sourceDrift.checked
        ? 'ok (a fresh instance would be in sync)'
        : `not checked${e.sourceDrift.problem === null ? '' : `: ${e.sourceDrift.problem}`}`;
    lines.push(`  source: ${source}`);
    lines.push(
      `  quarantine: ${e.quarantine === 'unknown' ? 'unknown (pass --table to read it)' : e.quarantine}; paused: ${e.paused === null ? 'unknown (pass --table to read it)' : e.paused ? 'yes' : 'no'}`,
    );
    if (e.quarantineCause !== null) lines.push(`  quarantined ${e.quarantineCause}`);
    for (const blocker of e.blockedBy)
      if (e.drifted > 0) lines.push(`  not replacing: ${BLOCKER_TEXT[blocker]}`);
  }

  const s = plan.summary;
  lines.push(
    '',
    `Summary: ${plural(s.instances, 'instance')} in ${plural(s.fleets, 'fleet')}: ${s.drifted} drifted, ${s.inSync} in sync, ${s.excluded} excluded, ${s.notApplicable} not applicable, ${s.outside} outside. Enforcement would replace ${s.replacements} now${
      s.notReplaceable === 0 ? '' : `; ${s.notReplaceable} drifted cannot be replaced (see above)`
    }.`,
  );
  return lines.join('\n');
}

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
    if (table !== undefined) deps.state = stateReaderOf(new StateStore(clients.dynamodb, table), table);
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
