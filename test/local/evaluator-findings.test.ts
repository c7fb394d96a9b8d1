import { describe, expect, it } from 'vitest';
import type { DriftReason } from '../../functions/domain/model';
import type { DetectionSummary } from '../../functions/evaluate-drift/core';
import {
  EvaluatorFindings,
  type InstanceResult,
  sweepFindings,
} from '../../functions/local/evaluator-findings';

const owner = (actual: string): DriftReason[] => [
  { kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual, source: 'desired-state' },
];

function summary(overrides: Partial<DetectionSummary>): DetectionSummary {
  return {
    event: 'config-scheduled',
    judged: 0,
    compliant: 0,
    nonCompliant: 0,
    notApplicable: 0,
    evaluationsRecorded: 0,
    notificationsPublished: 0,
    remediationsStarted: 0,
    remediationsAlreadyStarted: 0,
    remediationsHeld: 0,
    evaluationsUnchanged: 0,
    decisions: [],
    ...overrides,
  };
}

describe('sweepFindings: the report sees a sweep only through one result per instance', () => {
  const results: InstanceResult[] = [
    { instanceId: 'i-c', fleet: 'web', drift: owner('eve'), action: 'held', why: 'fleet web is paused' },
    { instanceId: 'i-b', fleet: 'web', drift: owner('bob'), action: 'started' },
    { instanceId: 'i-a', fleet: 'jobs', drift: owner('al'), action: 'held', why: 'template quarantined' },
    { instanceId: 'i-d', fleet: 'jobs', drift: owner('dan'), action: 'not-running', state: 'stopped' },
    { instanceId: 'i-e', fleet: 'obs', drift: owner('ed'), action: 'none' },
    // Started by an earlier event's execution, and no longer judged drifted by this sweep.
    { instanceId: 'i-f', fleet: 'web', drift: null, action: 'started' },
  ];

  it('keeps the held instances in the order they were held, with the reasons of their drift', () => {
    const findings = sweepFindings(results, summary({ remediationsStarted: 2 }));
    expect(findings.held).toEqual([
      { instanceId: 'i-c', fleet: 'web', why: 'fleet web is paused', reasons: owner('eve') },
      { instanceId: 'i-a', fleet: 'jobs', why: 'template quarantined', reasons: owner('al') },
    ]);
    expect(findings.drifted.map((d) => d.instanceId)).toEqual(['i-c', 'i-b', 'i-a', 'i-d', 'i-e']);
    expect(findings.drifted.find((d) => d.instanceId === 'i-e')).toEqual({
      instanceId: 'i-e',
      fleet: 'obs',
      reasons: owner('ed'),
    });
    expect([...findings.notRunning]).toEqual([['i-d', 'stopped']]);
  });

  it("counts what was started from the sweep's summary, or from the results when the sweep threw", () => {
    expect(sweepFindings(results, summary({ remediationsStarted: 7 })).started).toBe(7);
    expect(sweepFindings(results, undefined).started).toBe(2);
  });
});

describe('EvaluatorFindings: what the evaluator logged in one sweep, read into results', () => {
  it('reads drift, holds, starts and stopped instances of the sweep after the mark, and nothing before it', () => {
    const findings = new EvaluatorFindings();
    const log = findings.logger;
    // An earlier sweep: none of it belongs to the next one.
    log.info('Instance drifted', { instanceId: 'i-old', fleet: 'web', reasons: owner('x') });
    log.warn('Drifted instance not replaced', { instanceId: 'i-old', fleet: 'web', why: 'paused' });

    const from = findings.mark();
    // Judged in order a, b, c, d, e; acted on concurrently, so held c before a.
    for (const [id, fleet, actual] of [
      ['i-a', 'jobs', 'al'],
      ['i-b', 'web', 'bob'],
      ['i-c', 'web', 'eve'],
      ['i-d', 'jobs', 'dan'],
      ['i-e', 'obs', 'ed'],
    ] as const) {
      log.info('Instance drifted', { instanceId: id, fleet, fingerprint: 'v1-f', reasons: owner(actual) });
    }
    log.warn('Drifted instance not replaced', {
      instanceId: 'i-c',
      fleet: 'web',
      why: 'fleet web is paused',
    });
    log.info('Drifted instance is not running: recorded, not acted on', {
      instanceId: 'i-d',
      fleet: 'jobs',
      state: 'stopped',
    });
    log.info('Remediation started', { instanceId: 'i-b', fleet: 'web', execution: 'arn:…:i-b-v1-f-0' });
    log.warn('Drifted instance not replaced', {
      instanceId: 'i-a',
      fleet: 'jobs',
      why: 'template quarantined',
    });
    // Said twice (judged again before acting): the first why stands.
    log.warn('Drifted instance not replaced', { instanceId: 'i-c', fleet: 'web', why: 'something else' });
    log.info('Sweep finished', { judged: 5 });

    const sweep = findings.ofSweep(from, undefined);
    expect(sweep.held).toEqual([
      { instanceId: 'i-c', fleet: 'web', why: 'fleet web is paused', reasons: owner('eve') },
      { instanceId: 'i-a', fleet: 'jobs', why: 'template quarantined', reasons: owner('al') },
    ]);
    expect(sweep.drifted.map((d) => d.instanceId).sort()).toEqual(['i-a', 'i-b', 'i-c', 'i-d', 'i-e']);
    expect([...sweep.notRunning]).toEqual([['i-d', 'stopped']]);
    expect(sweep.started).toBe(1);
    expect(findings.ofSweep(from, summary({ remediationsStarted: 3 })).started).toBe(3);
  });

  it('reads a sweep that logged nothing about instances as no findings', () => {
    const findings = new EvaluatorFindings();
    const from = findings.mark();
    findings.logger.info('Sweep finished', { judged: 0 });
    expect(findings.ofSweep(from, summary({}))).toEqual({
      started: 0,
      drifted: [],
      held: [],
      notRunning: new Map(),
    });
  });
});
