import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { CreateTagsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { atomicDynamoDB } from '../../emulator/table';
import { ComplianceLedger, LEDGER_SHARDS, shardOf } from '../../functions/aws/compliance-ledger';
import { handleEvent } from '../../functions/evaluate-drift/core';
import { ANNOTATION_MAX_LENGTH, evaluationDigest } from '../../functions/evaluate-drift/evaluations';
import { resetEmulator, testClients } from '../helpers/emulator';
import { emulatedDetection } from './account';
import { configFixture, fixture } from './harness';
import { desiredStateYaml, seedEstate, writeDesiredState } from './world';

const SWEPT = 7;

async function setUp() {
  await resetEmulator();
  const clients = testClients();
  const estate = await seedEstate(clients);
  const { compiled } = await writeDesiredState(desiredStateYaml('observe'));
  return { clients, estate, compiled, ...(await emulatedDetection(clients, compiled)) };
}

describe('the compliance ledger: a sweep reports only what Config does not already hold', () => {
  let world: Awaited<ReturnType<typeof setUp>>;

  beforeEach(async () => {
    world = await setUp();
  });

  it('reports every instance on the first sweep and nothing on a second sweep of an unchanged estate', async () => {
    const first = await handleEvent(world.deps, fixture('config-scheduled'));
    const afterFirst = world.sent().length;
    const second = await handleEvent(world.deps, fixture('config-scheduled'));

    expect(first).toMatchObject({ judged: SWEPT, evaluationsRecorded: SWEPT, evaluationsUnchanged: 0 });
    expect(afterFirst).toBe(SWEPT);
    expect(second).toMatchObject({ judged: SWEPT, evaluationsRecorded: 0, evaluationsUnchanged: SWEPT });
    expect(world.sent()).toHaveLength(SWEPT);
    // No evaluations, no call: an unchanged estate costs Config nothing.
    expect(world.config.commandCalls(PutEvaluationsCommand)).toHaveLength(1);
    expect(world.metrics.count('EvaluationsUnchanged')).toBe(SWEPT);
  });

  it('reports exactly the instance whose compliance changed between sweeps', async () => {
    await handleEvent(world.deps, fixture('config-scheduled'));
    const target = world.estate.web.inSync[0] ?? '';
    await world.clients.ec2.send(
      new CreateTagsCommand({ Resources: [target], Tags: [{ Key: 'Owner', Value: 'mallory' }] }),
    );

    const second = await handleEvent(world.deps, fixture('config-scheduled'));

    expect(second).toMatchObject({ evaluationsRecorded: 1, evaluationsUnchanged: SWEPT - 1 });
    expect(world.sent().slice(SWEPT)).toEqual([{ id: target, compliance: 'NON_COMPLIANT' }]);
  });

  it('reports again when only the annotation changed (a drift that changed its reasons)', async () => {
    await handleEvent(world.deps, fixture('config-scheduled'));
    const drifted = world.estate.web.handChanged;
    await world.clients.ec2.send(
      new CreateTagsCommand({ Resources: [drifted], Tags: [{ Key: 'Owner', Value: 'someone-else-again' }] }),
    );

    await handleEvent(world.deps, fixture('config-scheduled'));

    expect(world.sent().slice(SWEPT)).toEqual([{ id: drifted, compliance: 'NON_COMPLIANT' }]);
  });

  it('reports everything again after a deploy, a new desired-state revision or a re-created rule', async () => {
    await handleEvent(world.deps, fixture('config-scheduled'));

    await handleEvent({ ...world.deps, deploymentId: 'asset-2' }, fixture('config-scheduled'));
    expect(world.sent()).toHaveLength(2 * SWEPT);

    const { compiled } = await writeDesiredState(
      `${desiredStateYaml('observe')}# a comment: a new revision\n`,
    );
    expect(compiled.revision).not.toBe(world.compiled.revision);
    await handleEvent(
      { ...world.deps, deploymentId: 'asset-2', desiredState: compiled },
      fixture('config-scheduled'),
    );
    expect(world.sent()).toHaveLength(3 * SWEPT);

    const recreated = fixture('config-scheduled');
    recreated.configRuleArn = 'arn:aws:config:us-east-1:123456789012:config-rule/config-rule-9new99';
    await handleEvent({ ...world.deps, deploymentId: 'asset-2', desiredState: compiled }, recreated);
    expect(world.sent()).toHaveLength(4 * SWEPT);
  });

  it('a change notification keeps the ledger in step: the next sweep does not repeat its evaluation', async () => {
    await handleEvent(world.deps, fixture('config-scheduled'));
    const target = world.estate.web.inSync[1] ?? '';
    await world.clients.ec2.send(
      new CreateTagsCommand({ Resources: [target], Tags: [{ Key: 'Environment', Value: 'dev' }] }),
    );
    const change = configFixture('config-item-change', (invoking) => {
      const item = invoking.configurationItem as Record<string, unknown> & {
        configuration: Record<string, unknown>;
      };
      item.resourceId = target;
      item.configuration.instanceId = target;
    });
    // The fixture's item is not exactly this instance as it is now: what matters is that what
    // was reported for it is noted in the ledger, whatever it was.
    await handleEvent(world.deps, change);
    const calls = world.config.commandCalls(PutEvaluationsCommand);
    const [reported] = calls.at(-1)?.args[0].input.Evaluations ?? [];
    expect(reported?.ComplianceResourceId).toBe(target);
    const generation = {
      rule: String(fixture('config-scheduled').configRuleArn),
      revision: world.compiled.revision,
    };
    const reading = await world.ledger.read(generation);
    expect(reading.digestOf(target)).toBe(
      evaluationDigest({
        compliance: reported?.ComplianceType as 'NON_COMPLIANT',
        ...(reported?.Annotation === undefined ? {} : { annotation: reported.Annotation }),
      }),
    );

    await handleEvent(world.deps, fixture('config-scheduled'));

    // The sweep corrects at most that one instance (when the notification's item was older than
    // the instance is now); the rest of the estate is not sent again.
    const afterSweep = world.sent().slice(SWEPT + 1);
    expect(afterSweep.every((e) => e.id === target)).toBe(true);
    expect(afterSweep.length).toBeLessThanOrEqual(1);
    expect((await world.ledger.read(generation)).size).toBe(SWEPT);
  });

  it('does not write the ledger when Config refused the evaluations: the next sweep sends them again', async () => {
    world.config
      .on(PutEvaluationsCommand)
      .rejectsOnce(Object.assign(new Error('Access denied'), { name: 'AccessDeniedException' }));
    await expect(handleEvent(world.deps, fixture('config-scheduled'))).rejects.toThrow(/Access denied/);

    world.config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });
    const retried = await handleEvent(world.deps, fixture('config-scheduled'));

    expect(retried).toMatchObject({ evaluationsRecorded: SWEPT, evaluationsUnchanged: 0 });
  });

  it('drops instances that are gone from the ledger', async () => {
    await handleEvent(world.deps, fixture('config-scheduled'));
    await world.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [world.estate.batch.inSync] }));

    await handleEvent(world.deps, fixture('config-scheduled'));

    const reading = await world.ledger.read({
      rule: String(fixture('config-scheduled').configRuleArn),
      revision: world.compiled.revision,
    });
    expect(reading.size).toBe(SWEPT - 1);
    expect(reading.digestOf(world.estate.batch.inSync)).toBeUndefined();
  });

  it('leaves a shard another sweep wrote meanwhile, without failing', async () => {
    const ledger = new ComplianceLedger(
      atomicDynamoDB(world.clients.dynamodb),
      'phoenix-state',
      () => new Date(),
    );
    const generation = { rule: 'rule', revision: 'rev' };
    const stale = await ledger.read(generation);
    await ledger.replace(await ledger.read(generation), new Map([['i-0aaa', 'digest-one']]));

    const write = await ledger.replace(stale, new Map([['i-0aaa', 'digest-two']]));

    expect(write).toEqual({ shardsWritten: 0, shardsConflicted: 1 });
    expect((await ledger.read(generation)).digestOf('i-0aaa')).toBe('digest-one');
  });

  it('writes back only the shards whose entries changed', async () => {
    const ledger = new ComplianceLedger(
      atomicDynamoDB(world.clients.dynamodb),
      'phoenix-state',
      () => new Date(),
    );
    const generation = { rule: 'rule', revision: 'rev' };
    const ids = Array.from({ length: 200 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    const first = await ledger.replace(await ledger.read(generation), new Map(ids.map((id) => [id, 'a'])));
    const changedId = ids[7] ?? '';

    const second = await ledger.replace(
      await ledger.read(generation),
      new Map(ids.map((id) => [id, id === changedId ? 'b' : 'a'])),
    );

    expect(first.shardsWritten).toBe(LEDGER_SHARDS);
    expect(second).toEqual({ shardsWritten: 1, shardsConflicted: 0 });
    expect((await ledger.read(generation)).digestOf(changedId)).toBe('b');
  });
});

describe('evaluationDigest and shardOf', () => {
  it('tell compliance and annotation apart, as Config records them', () => {
    const base = { compliance: 'NON_COMPLIANT', annotation: 'tags.Owner: expected a, found b' } as const;
    expect(evaluationDigest(base)).not.toBe(evaluationDigest({ ...base, compliance: 'COMPLIANT' }));
    expect(evaluationDigest(base)).not.toBe(
      evaluationDigest({ ...base, annotation: 'tags.Owner: expected a, found c' }),
    );
    expect(evaluationDigest({ compliance: 'COMPLIANT' })).toBe(
      evaluationDigest({ compliance: 'COMPLIANT', annotation: '  ' }),
    );
    // Config keeps the first 256 characters: what differs beyond is the same evaluation to it.
    const long = 'x'.repeat(ANNOTATION_MAX_LENGTH + 40);
    expect(evaluationDigest({ ...base, annotation: `${long}1` })).toBe(
      evaluationDigest({ ...base, annotation: `${long}2` }),
    );
  });

  it('spreads instances over every shard, each always in the same one', () => {
    const shards = new Set(
      Array.from({ length: 2000 }, (_, i) => shardOf(`i-${i.toString(16).padStart(17, '0')}`)),
    );
    expect(shards.size).toBe(LEDGER_SHARDS);
    expect(shardOf('i-0123456789abcdef0')).toBe(shardOf('i-0123456789abcdef0'));
  });
});
