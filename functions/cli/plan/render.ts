/** `phoenix plan`'s text report: an instance table, then what enforcement would do per fleet. */
import { PLAN_BLOCKER_LABELS } from '../../domain/gate/messages';
import { describeReasons } from '../../evaluate-drift/evaluations';
import type { Blocker, FleetPlan, Plan } from './model';
import { rolloutBlockerText } from './rollout';

/** The line after "not replacing:" for a fleet blocker: the gate's label, or the rollout's stage and why. */
export function blockerLabel(fleet: FleetPlan, blocker: Blocker): string {
  return (
    rolloutBlockerText(fleet, blocker) ?? PLAN_BLOCKER_LABELS[blocker as keyof typeof PLAN_BLOCKER_LABELS]
  );
}

/**
 * The rollout's line: `of lt-0abc version 3: baking (1 of 3 replaced, 0 rolled back, maxFailures 1)`,
 * `of lt-0abc version 3: not begun`, `unknown (pass --table to read it)`; the alarms in ALARM after.
 */
export function rolloutLine(fleet: FleetPlan): string {
  const r = fleet.rollout;
  const of = r.source === null ? '' : `of ${r.source.templateId} version ${r.source.version}: `;
  if (!r.policy.staged && (r.stage === 'none' || r.stage === 'unknown'))
    return 'none declared (replaced under the budget alone)';
  const stage =
    r.stage === 'unknown'
      ? `unknown${r.source === null ? ' (the launch template is unresolved)' : ' (pass --table to read it)'}`
      : `${of}${r.stage === 'none' ? 'not begun' : r.stage}`;
  const progress =
    r.progress === null
      ? ''
      : ` (${r.progress.replaced} of ${r.progress.members} replaced, ${r.progress.rolledBack} rolled back, maxFailures ${r.progress.maxFailures})`;
  const alarms = r.firingAlarms.length === 0 ? '' : `; alarm ${r.firingAlarms.join(', ')} in ALARM`;
  return `${stage}${progress}${alarms}`;
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

/** `1 wave`, `2 waves`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

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
    lines.push(`  rollout: ${rolloutLine(fleet)}`);
    for (const blocker of e.blockedBy)
      if (e.drifted > 0) lines.push(`  not replacing: ${blockerLabel(fleet, blocker)}`);
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
