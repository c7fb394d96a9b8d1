/**
 * A member's admission into its rollout, counted in the lease's own transaction, against the
 * emulated account's state table (docs/adr/0031-rollout-admission-on-the-lease.md). Hostile:
 * two executions racing for the last canary slot, a halt racing a grant, a retried lease step
 * and a retried end. Each "process" has its own client and store.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStateTable } from '../../emulator/table';
import { type LeaseRequest, RemediationStore } from '../../functions/aws/remediation-store';
import { type RolloutRecord, RolloutStore } from '../../functions/aws/rollout-store';
import { StateStore } from '../../functions/aws/state-store';
import type { RolloutAdmission } from '../../functions/aws/state-table/remediation/rollout-admission';
import { haltByOperator } from '../../functions/domain/rollout/stage';
import { testClientConfig } from '../helpers/emulator';

const TABLE = 'phoenix-rollout-admission';
const T0 = new Date('2026-12-05T10:00:00.000Z');

function aProcess() {
  const dynamodb = new DynamoDBClient(testClientConfig());
  return {
    leases: new RemediationStore(dynamodb, TABLE, () => T0),
    rollouts: new RolloutStore(dynamodb, TABLE, () => T0),
    state: new StateStore(dynamodb, TABLE, () => T0),
  };
}

let version = 0;
async function begin(fleet: string, canary: number, members = 5): Promise<RolloutRecord> {
  version += 1;
  const { rollout } = await aProcess().rollouts.create({
    fleet,
    source: { templateId: 'lt-0abc', version, imageId: `ami-0${version}` },
    stage: 'canary',
    members,
    canary,
    bakeMinutes: 30,
    maxFailures: 0,
  });
  return rollout;
}

function admissionOf(rollout: RolloutRecord): RolloutAdmission {
  return {
    fleet: rollout.fleet,
    source: { templateId: rollout.source.templateId, version: rollout.source.version },
    stage: rollout.stage === 'rolling' ? 'rolling' : 'canary',
    admitted: rollout.admitted,
    rolledBack: rollout.rolledBack,
    ended: rollout.ended,
  };
}

function lease(rollout: RolloutRecord, holder: string, instanceId: string): LeaseRequest {
  return {
    fleet: rollout.fleet,
    holder,
    instanceId,
    maxConcurrent: 5,
    minHealthyPercent: 0,
    healthy: 5,
    desired: 5,
    disruption: 0,
    ttlSeconds: 600,
    gate: { fleet: rollout.fleet, templateId: rollout.source.templateId, version: rollout.source.version },
    rollout: admissionOf(rollout),
  };
}

beforeAll(async () => {
  await createStateTable(new DynamoDBClient(testClientConfig()), TABLE);
});

describe('a rollout member admitted with its lease', () => {
  it('gives the last canary slot to exactly one of two executions racing for it; the other holds nothing', async () => {
    const rollout = await begin('race', 1);
    const [a, b] = await Promise.all([
      aProcess().leases.acquireLease(lease(rollout, 'exec-a', 'i-0000000000000000a')),
      aProcess().leases.acquireLease(lease(rollout, 'exec-b', 'i-0000000000000000b')),
    ]);
    const granted = [a, b].filter((d) => d.granted);
    expect(granted).toHaveLength(1);
    const refused = [a, b].find((d) => !d.granted);
    expect(refused).toMatchObject({ granted: false, rolloutMoved: true });
    const { state, rollouts } = aProcess();
    expect((await rollouts.get('race', rollout.source))?.admitted).toBe(1);
    // The loser took no slot and no claim: only the winner's lease is there.
    expect(await state.listLeases('race')).toHaveLength(1);
  });

  it('refuses a member whose reading is stale even when the quota looked open (the canary was taken since)', async () => {
    const rollout = await begin('stale', 1);
    const first = await aProcess().leases.acquireLease(lease(rollout, 'exec-1', 'i-00000000000000001'));
    expect(first.granted).toBe(true);
    // Decided from the same (now stale) reading: admitted 0.
    const second = await aProcess().leases.acquireLease(lease(rollout, 'exec-2', 'i-00000000000000002'));
    expect(second).toMatchObject({ granted: false, rolloutMoved: true });
  });

  it('counts a retried lease step once: the holder gets its lease back, admitted stays 1', async () => {
    const rollout = await begin('retry', 2);
    const { leases, rollouts } = aProcess();
    const request = lease(rollout, 'exec-r', 'i-0000000000000000c');
    expect((await leases.acquireLease(request)).granted).toBe(true);
    // The same step again, as Step Functions retries it after a timeout: decided from the same read.
    expect((await leases.acquireLease(request)).granted).toBe(true);
    expect((await rollouts.get('retry', rollout.source))?.admitted).toBe(1);
  });

  it('counts a member end once, however often the end is retried', async () => {
    const rollout = await begin('settle', 1);
    const { leases, rollouts } = aProcess();
    expect((await leases.acquireLease(lease(rollout, 'exec-s', 'i-0000000000000000d'))).granted).toBe(true);
    const first = await rollouts.settle('settle', rollout.source, 'exec-s', 'replaced');
    const again = await rollouts.settle('settle', rollout.source, 'exec-s', 'replaced');
    expect(first.settled).toBe(true);
    expect(again.settled).toBe(false);
    expect(again.rollout?.replaced).toBe(1);
    // An execution that was never admitted counts nothing.
    expect((await rollouts.settle('settle', rollout.source, 'exec-never', 'rolledBack')).settled).toBe(false);
    expect((await rollouts.get('settle', rollout.source))?.rolledBack).toBe(0);
  });

  it('never grants after a halt is written: a halt racing a grant either lands after the admission or refuses it', async () => {
    const rollout = await begin('halt-race', 2);
    const p1 = aProcess();
    const p2 = aProcess();
    const [decision, halted] = await Promise.all([
      p1.leases.acquireLease(lease(rollout, 'exec-h', 'i-0000000000000000e')),
      p2.rollouts.recordStep(rollout, haltByOperator(rollout, 'oncall', 'bad image', T0)),
    ]);
    // The halt is decided on the stage only: it lands whatever the admission did.
    expect(halted.written).toBe(true);
    const now = await p1.rollouts.get('halt-race', rollout.source);
    expect(now?.stage).toBe('halted');
    expect(now?.admitted).toBe(decision.granted ? 1 : 0);
    // After the halt nothing is admitted, and the version is quarantined with it.
    const after = await p1.leases.acquireLease(lease(rollout, 'exec-late', 'i-0000000000000000f'));
    expect(after.granted).toBe(false);
    const gate = await p1.leases.remediationGate({
      fleet: 'halt-race',
      templateId: rollout.source.templateId,
      version: rollout.source.version,
    });
    expect(gate.quarantine).toBeDefined();
  });

  it('admits in rolling only while admitted < members', async () => {
    const rollout = await begin('rolling', 0, 1);
    const moved = await aProcess().rollouts.recordStep(rollout, {
      rollout: { ...rollout, stage: 'rolling' },
      changed: true,
    });
    if (!moved.written) throw new Error('expected the stage written');
    const rolling = moved.rollout;
    const first = await aProcess().leases.acquireLease(lease(rolling, 'exec-x', 'i-00000000000000010'));
    expect(first.granted).toBe(true);
    const second = await aProcess().leases.acquireLease(lease(rolling, 'exec-y', 'i-00000000000000011'));
    expect(second).toMatchObject({ granted: false, rolloutMoved: true });
  });
});
