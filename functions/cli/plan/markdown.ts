/**
 * `phoenix plan --format markdown`: the blast radius as a pull-request comment. GitHub and
 * GitLab render it alike (GitHub-flavoured tables, `<details>`): a total line first, a table
 * of every fleet, then for each fleet with drift what enforcement would do and what blocks
 * it, its drifted instances listed (in a collapsed block past {@link COLLAPSE_AFTER}, cut at
 * {@link MAX_ROWS_PER_FLEET}). The whole stays under GitHub's comment limit: past
 * {@link MAX_COMMENT_CHARS} the instance lists are left out and the comment says so.
 *
 * Every value that comes from the account or the file (tags, names, reasons) is escaped, so
 * nothing in an instance's tags can break the table or inject HTML into the comment.
 */
import { durationText } from '../../domain/estimate';
import { describeReasons } from '../../evaluate-drift/evaluations';
import type { FleetPlan, Plan, PlannedInstance } from './model';
import { blockerLabel, plural, rolloutLine } from './render';

/** A fleet's drifted instances are listed openly up to this many, in a collapsed block beyond. */
export const COLLAPSE_AFTER = 10;
/** At most this many instance rows per fleet; the rest are counted (the JSON lists every one). */
export const MAX_ROWS_PER_FLEET = 50;
/** GitHub refuses comments over 65,536 characters; stay well under it. */
export const MAX_COMMENT_CHARS = 60_000;

/** Escapes text for a table cell or a line: no pipe, no newline, no HTML. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'")
    .replace(/\r?\n/g, ' ');
}

/** An identifier in code style (backticks cannot appear in it: they are replaced). */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\r?\n/g, ' ')}\``;
}

function windowClosed(fleet: FleetPlan): boolean {
  return fleet.enforcement.window.declared && !fleet.enforcement.window.openNow;
}

function blockedBy(fleet: FleetPlan): string {
  const e = fleet.enforcement;
  const reasons = e.drifted === 0 ? [] : e.blockedBy.map((b) => blockerLabel(fleet, b));
  if (e.drifted > 0 && windowClosed(fleet)) {
    reasons.push(`window closed, opens ${e.window.nextOpening ?? 'never'}`);
  }
  return reasons.length === 0 ? '—' : escapeMarkdown(reasons.join('; '));
}

function estimate(fleet: FleetPlan): string {
  const seconds = fleet.enforcement.estimatedSeconds;
  return seconds === 0 ? '—' : durationText(seconds);
}

function summaryTable(plan: Plan): string[] {
  const rows = [
    '| Fleet | Mode | Instances | Drifted | Replacements | Waves | Estimated | Blocked by |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const fleet of plan.fleets) {
    const e = fleet.enforcement;
    const waves = e.replacements === 0 ? '—' : `${e.waves} (${e.maxConcurrent} at a time)`;
    rows.push(
      `| ${code(fleet.name)} | ${fleet.mode} | ${fleet.instances.length} | ${e.drifted} | ${e.replacements} | ${waves} | ${estimate(fleet)} | ${blockedBy(fleet)} |`,
    );
  }
  return rows;
}

function whyOf(row: PlannedInstance): string {
  const parts = row.reasons.length > 0 ? [describeReasons(row.reasons)] : row.why === null ? [] : [row.why];
  if (row.notReplaceable !== null) parts.push(`not replaceable: ${row.notReplaceable.why}`);
  for (const other of row.alsoSelectedBy) parts.push(other.why);
  return escapeMarkdown(parts.join('; '));
}

function instanceTable(fleet: FleetPlan, drifted: readonly PlannedInstance[]): string[] {
  const shown = drifted.slice(0, MAX_ROWS_PER_FLEET);
  const blocked = fleet.enforcement.blockedBy.length > 0;
  const rows = ['| Instance | State | Replaced | Why |', '| --- | --- | --- | --- |'];
  for (const row of shown) {
    const replaceable = row.notReplaceable === null && row.state === 'running';
    const replaced = !replaceable
      ? 'no'
      : blocked
        ? 'once unblocked'
        : windowClosed(fleet)
          ? 'when the window opens'
          : 'yes';
    rows.push(`| ${code(row.instanceId)} | ${escapeMarkdown(row.state)} | ${replaced} | ${whyOf(row)} |`);
  }
  if (drifted.length > shown.length) {
    rows.push(
      '',
      `… and ${drifted.length - shown.length} more drifted in ${code(fleet.name)}: \`phoenix plan --format json\` lists every one.`,
    );
  }
  const summary = `${plural(drifted.length, 'drifted instance')} of ${code(fleet.name)}`;
  if (drifted.length <= COLLAPSE_AFTER) return rows;
  return ['<details>', `<summary>${summary}</summary>`, '', ...rows, '', '</details>'];
}

function fleetFacts(fleet: FleetPlan): string[] {
  const e = fleet.enforcement;
  const template =
    fleet.launchTemplate === null
      ? `launch template unresolved: ${escapeMarkdown(fleet.launchTemplateProblem ?? 'unknown')}`
      : `launch template ${code(fleet.launchTemplate.name)} (${code(fleet.launchTemplate.id)}) version ${fleet.launchTemplate.version}`;
  const facts = [
    `- ${template}; team ${code(fleet.team)}`,
    `- budget: maxConcurrent ${escapeMarkdown(e.maxConcurrentDeclared)} (${e.maxConcurrent} now), minHealthyPercent ${e.minHealthyPercent}`,
  ];
  if (e.replacements > 0) {
    facts.push(
      `- **${plural(e.replacements, 'replacement')} ${windowClosed(fleet) ? 'when the window opens' : 'now'}** in ${plural(e.waves, 'wave')}, ${estimate(fleet)}${
        e.headroom === 'standby-first'
          ? ' (the group is at MaxSize: each takes its old instance out first)'
          : ''
      }`,
    );
  }
  if (e.notReplaceable > 0)
    facts.push(`- ${plural(e.notReplaceable, 'drifted instance')} cannot be replaced (see why below)`);
  const window = !e.window.declared
    ? 'no maintenance window (always open)'
    : e.window.openNow
      ? `open now (${escapeMarkdown(e.window.timezone ?? 'UTC')})`
      : `closed, opens ${escapeMarkdown(e.window.nextOpening ?? 'never')} (${escapeMarkdown(e.window.timezone ?? 'UTC')})`;
  facts.push(`- window: ${window}`);
  if (e.sourceDrift.drifted) {
    facts.push(`- :warning: **source drift**: ${escapeMarkdown(describeReasons(e.sourceDrift.reasons))}`);
  } else if (!e.sourceDrift.checked) {
    facts.push(
      `- source not checked${e.sourceDrift.problem === null ? '' : `: ${escapeMarkdown(e.sourceDrift.problem)}`}`,
    );
  }
  if (e.quarantine === 'quarantined') {
    facts.push(
      `- :no_entry: quarantined${e.quarantineCause === null ? '' : `: ${escapeMarkdown(e.quarantineCause)}`}`,
    );
  }
  if (e.paused === true) facts.push('- :pause_button: remediation is paused (`phoenix resume` lifts it)');
  if (fleet.rollout.stage !== 'unknown' || fleet.rollout.firingAlarms.length > 0)
    facts.push(`- rollout: ${escapeMarkdown(rolloutLine(fleet))}`);
  // Quarantine and pause were said above with their details; the other blockers here.
  for (const blocker of e.blockedBy) {
    if (blocker !== 'quarantined' && blocker !== 'paused')
      facts.push(`- not replacing: ${escapeMarkdown(blockerLabel(fleet, blocker))}`);
  }
  if (e.quarantine === 'unknown' || e.paused === null) {
    facts.push('- pause and quarantines not read (the plan ran without `--table`)');
  }
  return facts;
}

/** The plan as a pull-request comment. */
export function renderMarkdown(plan: Plan): string {
  const s = plan.summary;
  const ds = plan.desiredState;
  const title =
    s.drifted === 0
      ? '### Phoenix plan: no drift'
      : `### Phoenix plan: ${s.drifted} drifted, ${plural(s.replacements, 'replacement')} now`;
  const head = [
    title,
    '',
    `**Total:** ${plural(s.instances, 'instance')} in ${plural(s.fleets, 'fleet')}: ${s.drifted} drifted, ${s.inSync} in sync, ${s.excluded} excluded, ${s.notApplicable} not applicable, ${s.outside} outside; **${plural(s.replacements, 'replacement')} now**${
      s.notReplaceable === 0 ? '' : `, ${s.notReplaceable} drifted cannot be replaced`
    }.`,
    '',
    `<sub>Desired state ${code(ds.file)} (revision ${code(ds.revision)}, commit ${code(ds.commit)}), judged ${escapeMarkdown(plan.generatedAt)}.</sub>`,
    '',
    ...summaryTable(plan),
  ];

  const sections: { facts: string[]; instances: string[] }[] = [];
  for (const fleet of plan.fleets) {
    const drifted = fleet.instances.filter((i) => i.verdict === 'drifted');
    if (drifted.length === 0) continue;
    sections.push({
      facts: [
        '',
        `#### ${code(fleet.name)}: ${plural(drifted.length, 'drifted instance')}`,
        '',
        ...fleetFacts(fleet),
      ],
      instances: ['', ...instanceTable(fleet, drifted)],
    });
  }

  const full = [...head, ...sections.flatMap((section) => [...section.facts, ...section.instances])].join(
    '\n',
  );
  if (full.length <= MAX_COMMENT_CHARS) return full;
  // Too long for one comment: keep every fleet's facts, drop the instance lists.
  return [
    ...head,
    ...sections.flatMap((section) => section.facts),
    '',
    `<sub>The instance lists are left out to fit one comment (${full.length.toLocaleString('en-US')} characters with them); \`phoenix plan --format json\` lists every instance.</sub>`,
  ].join('\n');
}
