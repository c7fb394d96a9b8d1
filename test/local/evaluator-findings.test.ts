import { StartExecutionCommand, type StartExecutionCommandInput } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { decide, type GateRefusal } from '../../functions/domain/gate/decide';
import { notReplacedSentence } from '../../functions/domain/gate/messages';
import type { DriftReason } from '../../functions/domain/model';
import {
  DetectionIncompleteError,
  type DetectionSummary,
  handleEvent,
  type InstanceAction,
  type InstanceDecision,
} from '../../functions/evaluate-drift/core';
import {
  type InstanceResult,
  resultsOfDecisions,
  settleSweep,
  sweepFindings,
} from '../../functions/local/evaluator-findings';
import { configFixture, harness } from '../evaluate-drift/harness';
import { DEFAULT_INSTANCE_TAGS, desiredState, fleet, instanceFacts } from '../helpers/builders';

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

/** A refusal as the gate gives it, for a fleet in `mode` with the instance in `state`. */
function refusal(mode: 'enforce' | 'observe', state: string, pause = false): GateRefusal {
  const facts = {
    moment: 'detection' as const,
    now: new Date('2025-06-15T12:00:00.000Z'),
    match: { kind: 'member' as const, fleet: fleet({ mode }) },
    instance: { instanceId: 'i-x', state },
    ...(pause ? { pause: { paused: true, by: 'ops', at: '2025-06-15T11:00:00.000Z' } } : {}),
  };
  const decision = decide(facts);
  if (decision.verdict === 'replace') throw new Error('the gate let it through');
  return decision;
}

function decision(
  instanceId: string,
  fleetName: string,
  verdict: InstanceDecision['verdict'],
  reasons: DriftReason[],
  action: InstanceAction,
): InstanceDecision {
  const judged = { instanceId, fleet: fleetName, verdict, reasons, fingerprint: null, state: 'running' };
  return { ...judged, ...action } as InstanceDecision;
}

/** What the gate says when nothing stops a replacement. */
const REPLACE = decide({
  moment: 'detection',
  now: new Date('2025-06-15T12:00:00.000Z'),
  match: { kind: 'member', fleet: fleet() },
  instance: { instanceId: 'i-b', state: 'running' },
});

const execution = {
  name: 'i-b-v1-f-0',
  arn: 'arn:aws:states:us-east-1:000000000000:execution:sm:i-b-v1-f-0',
};

describe("resultsOfDecisions: the evaluator's typed decisions are the results", () => {
  const paused = refusal('enforce', 'running', true);
  const stopped = refusal('enforce', 'stopped');
  const observed = refusal('observe', 'running');
  // Judged a, b, c, d, e, f, g; acted on concurrently, so c was held before a.
  const decisions = [
    decision('i-f', 'web', 'in-sync', [], { action: 'none', why: null }),
    decision('i-c', 'web', 'drifted', owner('eve'), {
      action: 'held',
      why: notReplacedSentence(paused.blocker),
      gate: paused,
    }),
    {
      ...decision('i-d', 'jobs', 'drifted', owner('dan'), {
        action: 'recorded',
        why: stopped.why,
        gate: stopped,
      }),
      state: 'stopped',
    },
    decision('i-b', 'web', 'drifted', owner('bob'), {
      action: 'started',
      execution,
      gate: REPLACE,
    }),
    decision('i-a', 'jobs', 'drifted', owner('al'), {
      action: 'held',
      why: 'Not replaced: template quarantined.',
      gate: paused,
    }),
    decision('i-e', 'obs', 'drifted', owner('ed'), {
      action: 'recorded',
      why: observed.why,
      gate: observed,
    }),
    decision('i-g', 'web', 'drifted', owner('gus'), {
      action: 'already-started',
      execution,
      gate: REPLACE,
    }),
    decision('i-h', 'web', 'drifted', owner('hal'), {
      action: 'failed',
      error: 'SNS down',
    }),
    {
      ...decision('i-o', 'web', 'outside', [], { action: 'none', why: 'no fleet' }),
      fleet: null,
    },
  ];

  it('maps each decision field by field, in the order the evaluator decided', () => {
    expect(resultsOfDecisions(decisions)).toEqual([
      { instanceId: 'i-f', fleet: 'web', drift: null, action: 'none' },
      {
        instanceId: 'i-c',
        fleet: 'web',
        drift: owner('eve'),
        action: 'held',
        why: notReplacedSentence(paused.blocker),
      },
      { instanceId: 'i-d', fleet: 'jobs', drift: owner('dan'), action: 'not-running', state: 'stopped' },
      { instanceId: 'i-b', fleet: 'web', drift: owner('bob'), action: 'started' },
      {
        instanceId: 'i-a',
        fleet: 'jobs',
        drift: owner('al'),
        action: 'held',
        why: 'Not replaced: template quarantined.',
      },
      // Observed, already started, failed: drifted, and nothing the report tells apart.
      { instanceId: 'i-e', fleet: 'obs', drift: owner('ed'), action: 'none' },
      { instanceId: 'i-g', fleet: 'web', drift: owner('gus'), action: 'none' },
      { instanceId: 'i-h', fleet: 'web', drift: owner('hal'), action: 'none' },
      { instanceId: 'i-o', fleet: '', drift: null, action: 'none' },
    ]);
  });

  it('gives the findings the log gave: held in the order held, with the why the team was told', () => {
    const sweep = sweepFindings(resultsOfDecisions(decisions), undefined);
    expect(sweep.held).toEqual([
      {
        instanceId: 'i-c',
        fleet: 'web',
        why: 'Not replaced: remediation is paused (by ops at 2025-06-15T11:00:00.000Z); run `phoenix resume` to allow it again.',
        reasons: owner('eve'),
      },
      { instanceId: 'i-a', fleet: 'jobs', why: 'Not replaced: template quarantined.', reasons: owner('al') },
    ]);
    expect(sweep.drifted.map((d) => d.instanceId)).toEqual(['i-c', 'i-d', 'i-b', 'i-a', 'i-e', 'i-g', 'i-h']);
    expect([...sweep.notRunning]).toEqual([['i-d', 'stopped']]);
    expect(sweep.started).toBe(1);
    expect(sweepFindings(resultsOfDecisions(decisions), summary({ remediationsStarted: 3 })).started).toBe(3);
  });
});

describe('settleSweep: what a sweep decided reaches the report, also when it threw', () => {
  const handChanged = (instanceId: string) =>
    instanceFacts({ instanceId, tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'someone-else' } });

  it('reads a sweep with no decisions as no findings', async () => {
    const settled = await settleSweep(async () => summary({}));
    expect(settled).toEqual({
      summary: summary({}),
      findings: { started: 0, drifted: [], held: [], notRunning: new Map() },
    });
  });

  it('a sweep one of whose starts failed still reports the other start and both drifts, and the error', async () => {
    const h = harness({ desiredState: desiredState([fleet()]) });
    h.world.instances = [handChanged('i-00000000000000001'), handChanged('i-00000000000000002')];
    h.mocks.sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
      if ((input.input ?? '').includes('i-00000000000000002'))
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      return {
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:sm:${input.name}`,
        startDate: new Date(),
      };
    });

    const settled = await settleSweep(() => handleEvent(h.deps, configFixture('config-scheduled')));

    expect(settled.threw?.error).toBeInstanceOf(DetectionIncompleteError);
    expect(settled.summary).toMatchObject({ judged: 2, nonCompliant: 2, remediationsStarted: 1 });
    expect(settled.findings.started).toBe(1);
    expect(settled.findings.drifted.map((d) => d.instanceId).sort()).toEqual([
      'i-00000000000000001',
      'i-00000000000000002',
    ]);
    expect(settled.findings.held).toEqual([]);
  });

  it('a sweep that threw before it had a summary gives no findings and keeps its error', async () => {
    const boom = new Error('malformed');
    const settled = await settleSweep(async () => {
      throw boom;
    });
    expect(settled).toEqual({
      threw: { error: boom },
      findings: { started: 0, drifted: [], held: [], notRunning: new Map() },
    });
  });
});
