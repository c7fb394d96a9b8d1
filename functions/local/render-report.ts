/** The text report of a reconcile run (`--format text`). */
import type { ReconcileReport, RemediationOutcome } from './report';
import { plural, reasonsText, seconds } from './text';

/** The text report: what happened to every drifted instance, then a summary line. */
export function renderReport(report: ReconcileReport): string {
  const lines: string[] = [];
  const ds = report.desiredState;
  const t = report.target;
  lines.push(
    `Reconciled ${ds.file ?? 'the desired state'} (revision ${ds.revision}, commit ${ds.commit}) in ${seconds(report.durationMs)}`,
    `  account: ${t.endpoint ?? 'AWS'} (${t.region}), state table ${t.table}, notifications ${t.topicArn === null ? 'not published (no topic)' : `to ${t.topicArn}`}, waits ${t.waits}`,
  );
  const by = (outcome: RemediationOutcome) => report.remediations.filter((r) => r.outcome === outcome);
  const section = (title: string, rows: string[]) => {
    if (rows.length === 0) return;
    lines.push('', title);
    lines.push(...rows);
  };
  section(
    'Replaced',
    by('succeeded').flatMap((r) => [
      `  ${r.instanceId} → ${r.replacementId ?? '?'}  (${r.fleet}, ${r.launchTemplate.name} v${r.launchTemplate.version}, ${seconds(r.durationMs)}, ${r.transitions} states)`,
      `      ${reasonsText(r.reasons)}${r.principal === null ? '' : `; changed by ${r.principal}`}`,
    ]),
  );
  section(
    'Skipped',
    by('skipped').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.reason}: ${r.detail}`),
  );
  section(
    'Blocked',
    by('blocked').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.detail}`),
  );
  section(
    'Rolled back',
    by('rolled-back').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.cause ?? r.detail}`),
  );
  section(
    'Manual action required',
    by('manual-action-required').map((r) => `  ${r.instanceId} (${r.fleet}): ${r.detail}`),
  );
  section(
    'Failed',
    [...by('failed'), ...by('error')].map(
      (r) => `  ${r.instanceId} (${r.fleet}): ${r.error ?? ''} ${r.cause ?? r.detail}`,
    ),
  );
  section(
    'Not replaced',
    report.held.map((h) => `  ${h.instanceId} (${h.fleet}): ${h.why}`),
  );
  section(
    'Still drifted',
    report.leftDrifted.map((l) => `  ${l.instanceId} (${l.fleet}): ${reasonsText(l.reasons)} — ${l.why}`),
  );
  section(
    'Errors',
    report.errors.map((e) => `  ${e}`),
  );
  if (report.notifications.length > 0) {
    const perTeam = new Map<string, Map<string, number>>();
    for (const n of report.notifications) {
      const events = perTeam.get(n.team) ?? new Map<string, number>();
      events.set(n.event, (events.get(n.event) ?? 0) + 1);
      perTeam.set(n.team, events);
    }
    section(
      `Notifications${t.topicArn === null ? ' (not published: no topic)' : ''}`,
      [...perTeam.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([team, events]) =>
            `  ${team}: ${[...events.entries()].map(([event, n]) => `${n} ${event}`).join(', ')}`,
        ),
    );
  }
  const s = report.summary;
  lines.push('');
  if (s.driftFound === 0 && report.converged) {
    lines.push(
      `Nothing to do: ${plural(s.instancesJudged, 'instance')} in ${plural(s.fleets, 'fleet')}, none drifted.`,
    );
  } else {
    const parts = [
      `${s.replaced} replaced`,
      s.skipped > 0 ? `${s.skipped} skipped` : '',
      s.blocked > 0 ? `${s.blocked} blocked` : '',
      s.rolledBack > 0 ? `${s.rolledBack} rolled back` : '',
      s.manualActionRequired > 0 ? `${s.manualActionRequired} need manual action` : '',
      s.failed > 0 ? `${s.failed} failed` : '',
      s.held > 0 ? `${s.held} not replaced` : '',
    ].filter((p) => p !== '');
    const verdict = report.converged
      ? 'Converged: every instance matches the desired state.'
      : report.stoppedBecause === 'round-limit'
        ? `NOT converged: stopped after ${plural(report.rounds.length - 1, 'round')} with work left.`
        : `NOT converged: ${plural(s.leftDrifted, 'instance')} still drifted.`;
    lines.push(`Drift found on ${plural(s.driftFound, 'instance')}: ${parts.join(', ')}. ${verdict}`);
  }
  return lines.join('\n');
}
