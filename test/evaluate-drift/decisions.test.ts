import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../functions/domain/drift/fingerprint';
import { notReplacedSentence, whyOf } from '../../functions/domain/gate/messages';
import type { CompiledFleet } from '../../functions/domain/model';
import {
  DetectionIncompleteError,
  handleEvent,
  type InstanceDecision,
} from '../../functions/evaluate-drift/core';
import { INSTANCE_ACTIONS } from '../../functions/evaluate-drift/decisions';
import { executionName } from '../../functions/evaluate-drift/execution';
import {
  ASG_NAME,
  DEFAULT_INSTANCE_TAGS,
  desiredState,
  fleet,
  INSTANCE_ID,
  instanceFacts,
  reason,
  standaloneInstance,
  TEMPLATE_ID,
  TEMPLATE_VERSION,
  templateFacts,
} from '../helpers/builders';
import { configFixture, fixture, harness, STATE_MACHINE_ARN } from './harness';

/**
 * The evaluator's typed per-instance decisions: what `handleEvent` returns for each instance
 * an event concerned, so an in-process caller (the local reconcile report, the demo) reads
 * records instead of log lines. Each path of the evaluator yields one, with the gate's
 * decision where the gate was asked.
 */

const handChanged = () => instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'someone-else' } });
const ownerFingerprint = fingerprintOf([
  reason({ kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'someone-else' }),
]);

function setup(fleets: CompiledFleet[] = [fleet()]) {
  return harness({ desiredState: desiredState(fleets) });
}

/** The one decision of a summary. */
function only(decisions: InstanceDecision[]): InstanceDecision {
  expect(decisions).toHaveLength(1);
  const [decision] = decisions;
  if (decision === undefined) throw new Error('no decision');
  return decision;
}

describe('the evaluator returns one typed decision per instance', () => {
  it('started: the execution it started, and the gate that let it', async () => {
    const h = setup();
    h.world.instances = [handChanged()];

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    const name = executionName(INSTANCE_ID, ownerFingerprint, 0);
    expect(only(summary.decisions)).toEqual({
      instanceId: INSTANCE_ID,
      fleet: 'web',
      state: 'running',
      verdict: 'drifted',
      fingerprint: ownerFingerprint,
      reasons: [expect.objectContaining({ field: 'tags.Owner', actual: 'someone-else' })],
      action: 'started',
      execution: { name, arn: expect.stringMatching(new RegExp(`:execution:.*:${name}$`)) },
      gate: expect.objectContaining({ verdict: 'replace' }),
    });
  });

  it('already-started: an execution of that name exists (a duplicate event)', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.mocks.sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    const name = executionName(INSTANCE_ID, ownerFingerprint, 0);
    const arn = `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`;
    expect(only(summary.decisions)).toMatchObject({ action: 'already-started', execution: { name, arn } });
  });

  it('held, paused: the gate’s blocker, and the sentence the team was told', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.paused = true;

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    const decision = only(summary.decisions);
    expect(decision).toMatchObject({
      action: 'held',
      gate: { verdict: 'hold', retryable: true, blocker: { code: 'paused', pause: { by: 'oncall-alice' } } },
    });
    if (decision.action !== 'held') throw new Error('not held');
    expect(decision.why).toBe(notReplacedSentence(decision.gate.blocker));
    expect(h.notifier.sent[0]?.message).toContain(decision.why);
  });

  it('held, launch configuration: the one sentence of that refusal (the gate’s, not a copy)', async () => {
    const h = setup();
    h.world.groupLaunchTemplates = { [ASG_NAME]: null };
    h.world.instances = [handChanged()];

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    const decision = only(summary.decisions);
    expect(decision).toMatchObject({
      action: 'held',
      gate: { blocker: { code: 'launch-configuration', group: ASG_NAME }, notify: true },
    });
    const sentence = whyOf({ code: 'launch-configuration', group: ASG_NAME });
    expect(decision).toMatchObject({ why: `Not replaced: ${sentence}.` });
    expect(h.notifier.sent.find((n) => n.event === 'remediation.blocked')?.message).toBe(
      `Not replaced: ${sentence}.`,
    );
  });

  it('held, quarantined and source drift carry their facts', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.quarantines.push({
      fleet: 'web',
      templateId: TEMPLATE_ID,
      version: TEMPLATE_VERSION,
      cause: 'replacement never became healthy',
      execution: 'arn:aws:states:us-east-1:123456789012:execution:x:y',
      at: '2025-06-14T10:00:00.000Z',
    });
    const quarantined = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    expect(only(quarantined.decisions)).toMatchObject({
      action: 'held',
      gate: { blocker: { code: 'quarantined', quarantine: { cause: 'replacement never became healthy' } } },
    });

    const s = setup();
    s.world.templates = [templateFacts({ instanceTags: { Name: 'web', Owner: 'platform' } })];
    s.world.groups = { [ASG_NAME]: {} };
    s.world.instances = [handChanged()];
    const sourceDrift = await handleEvent(s.deps, fixture('cloudtrail-create-tags'));
    expect(only(sourceDrift.decisions)).toMatchObject({
      action: 'held',
      gate: {
        blocker: {
          code: 'source-drift',
          reasons: expect.arrayContaining([
            expect.objectContaining({ field: 'tags.Owner', actual: 'platform' }),
          ]),
        },
      },
    });
  });

  it('held for a human: the drift’s hold, until when', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.holds.set(`${INSTANCE_ID}#${ownerFingerprint}`, {
      until: '2025-06-16T12:00:00.000Z',
      why: 'Auto Scaling group web-prod is pinned at min 3 = max 3 = desired 3',
    });

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(only(summary.decisions)).toMatchObject({
      action: 'held',
      why: 'Not replaced before 2025-06-16T12:00:00.000Z: Auto Scaling group web-prod is pinned at min 3 = max 3 = desired 3',
      gate: { blocker: { code: 'manual-hold' } },
    });
  });

  it('notified (notify mode): published once, then de-duplicated', async () => {
    const h = setup([fleet({ mode: 'notify' })]);
    h.world.instances = [handChanged()];

    const first = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    const second = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(only(first.decisions)).toMatchObject({
      action: 'notified',
      published: true,
      gate: { blocker: { code: 'mode-notify' } },
    });
    expect(only(second.decisions)).toMatchObject({ action: 'notified', published: false });
  });

  it('recorded: an observe fleet, and a drifted instance that is not running', async () => {
    const observe = setup([fleet({ mode: 'observe' })]);
    observe.world.instances = [handChanged()];
    const observed = await handleEvent(observe.deps, fixture('cloudtrail-create-tags'));
    expect(only(observed.decisions)).toMatchObject({
      action: 'recorded',
      gate: { blocker: { code: 'mode-observe' } },
    });

    const h = setup();
    h.world.instances = [instanceFacts({ tags: handChanged().tags, state: 'stopped' })];
    const stopped = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    expect(only(stopped.decisions)).toMatchObject({
      state: 'stopped',
      action: 'recorded',
      gate: { blocker: { code: 'not-running', state: 'stopped' } },
    });
  });

  it('an instance shutting down is not judged drifted: nothing held, nobody told', async () => {
    const h = setup();
    h.world.instances = [instanceFacts({ tags: handChanged().tags, state: 'shutting-down' })];

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(only(summary.decisions)).toMatchObject({
      state: 'shutting-down',
      verdict: 'not-applicable',
      action: 'none',
    });
    expect(summary.remediationsHeld).toBe(0);
    expect(h.notifier.sent).toEqual([]);
    expect(h.starts()).toEqual([]);
  });

  it('none: in sync, outside every fleet, gone, or fixed since the Config item was captured', async () => {
    const inSync = setup();
    inSync.world.instances = [instanceFacts()];
    const fine = await handleEvent(inSync.deps, fixture('cloudtrail-create-tags'));
    expect(only(fine.decisions)).toMatchObject({ verdict: 'in-sync', action: 'none', why: null });

    const outside = setup();
    outside.world.instances = [standaloneInstance({ Owner: 'someone-else' })];
    const stranger = await handleEvent(outside.deps, fixture('cloudtrail-create-tags'));
    expect(only(stranger.decisions)).toMatchObject({
      fleet: null,
      verdict: 'outside',
      action: 'none',
      why: expect.stringMatching(/no declared fleet selects/),
    });

    const gone = setup();
    const vanished = await handleEvent(gone.deps, fixture('cloudtrail-create-tags'));
    expect(only(vanished.decisions)).toEqual({
      instanceId: INSTANCE_ID,
      fleet: null,
      state: null,
      verdict: 'gone',
      fingerprint: null,
      reasons: [],
      action: 'none',
      why: `instance ${INSTANCE_ID} no longer exists`,
    });

    // The item says drifted (recorded so), but the instance was put back since: what it is now decides.
    const stale = setup();
    stale.world.instances = [instanceFacts()];
    const fixed = await handleEvent(stale.deps, fixture('config-item-change'));
    expect(only(fixed.decisions)).toMatchObject({
      verdict: 'in-sync',
      action: 'none',
      why: expect.stringMatching(/described again before acting/),
    });
  });

  it('a Config item out of scope is decided too (NOT_APPLICABLE, nothing done)', async () => {
    const h = setup();
    const summary = await handleEvent(h.deps, { ...fixture('config-item-change'), eventLeftScope: true });
    expect(only(summary.decisions)).toMatchObject({ instanceId: INSTANCE_ID, action: 'none' });
  });

  it('failed: the invocation fails, and its error carries the summary with the failed decision', async () => {
    const h = setup([fleet({ mode: 'notify' })]);
    h.world.instances = [handChanged()];
    h.notifier.failNext = Object.assign(new Error('SNS down'), { name: 'InternalErrorException' });

    const error = await handleEvent(h.deps, fixture('cloudtrail-create-tags')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DetectionIncompleteError);
    const summary = (error as DetectionIncompleteError).summary;
    expect(only(summary?.decisions ?? [])).toMatchObject({
      action: 'failed',
      error: 'InternalErrorException: SNS down',
    });
  });

  it('a sweep decides every instance once, in the order it judged them', async () => {
    const h = setup();
    h.world.instances = [
      instanceFacts({ instanceId: 'i-00000000000000001' }),
      instanceFacts({ instanceId: 'i-00000000000000002', tags: handChanged().tags }),
    ];

    const summary = await handleEvent(h.deps, configFixture('config-scheduled'));

    expect(summary.decisions.map((d) => [d.instanceId, d.verdict, d.action])).toEqual([
      ['i-00000000000000001', 'in-sync', 'none'],
      ['i-00000000000000002', 'drifted', 'started'],
    ]);
    // Plain data: what a local run prints as JSON is what it was given.
    expect(JSON.parse(JSON.stringify(summary.decisions))).toEqual(summary.decisions);
  });

  it('names every action it can take (the report switches on them)', () => {
    expect([...INSTANCE_ACTIONS].sort()).toEqual(
      ['already-started', 'failed', 'held', 'none', 'notified', 'recorded', 'started'].sort(),
    );
  });
});
