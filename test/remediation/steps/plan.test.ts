import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupLock } from '../../../functions/aws/state-store';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { InstanceGoneError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { EXECUTION_TAG, plan, REPLACES_TAG } from '../../../functions/remediation/steps';
import { compileYaml } from '../../helpers/account';
import { CTX, EXECUTION, FakeAccount, fakeDeps, fakeStore, OTHER_EXECUTION, SUBNET, VPC } from './fakes';
import { API_LT, HAND_TG, input, OLD, PEERS, seedApiInstance, seedWebGroup, WEB_TG } from './state';

/** The specs' desired state with the fleets' minHealthyPercent set. */
function budget(minHealthyPercent: number): CompiledDesiredState {
  return compileYaml(
    `
version: 1
defaults: { mode: enforce, budget: { maxConcurrent: 2, minHealthyPercent: ${minHealthyPercent} } }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt }
    tags: { Owner: team-api }
`,
    { commit: 'abc1234', sha256: 'a'.repeat(64) },
  );
}

const lockBy = (holder: string): GroupLock => ({
  group: 'web-asg',
  holder,
  instanceId: PEERS[0] ?? '',
  acquiredAt: '2025-06-15T12:00:00.000Z',
  expiresAt: 1_750_000_000,
});

describe('plan', () => {
  describe('an Auto Scaling member', () => {
    let account: FakeAccount;
    beforeEach(() => {
      account = new FakeAccount();
      seedWebGroup(account);
      // Also registered by hand in a target group the group does not know.
      account.addTargetGroup({
        arn: HAND_TG,
        vpcId: VPC,
        deregistrationDelay: 30,
        targets: [{ id: OLD, port: 8080, state: 'healthy' }],
      });
    });

    it('surges below MaxSize, draining by hand only what was registered by hand', async () => {
      const result = await plan(fakeDeps(account, fakeStore(), { state: budget(50) }), input(), CTX);

      expect(result).toEqual({
        strategy: 'asg',
        detail:
          'Auto Scaling group web-asg: desired capacity + 1 (now 3, max 4), then the old instance leaves',
        disruption: 0,
        oldTargets: [
          { targetGroupArn: WEB_TG, port: 80 },
          { targetGroupArn: HAND_TG, port: 8080 },
        ],
        // The group drains its own target group when it terminates the old instance.
        drainTargets: [{ targetGroupArn: HAND_TG, port: 8080 }],
        replacementTargetGroups: [WEB_TG],
        drainSeconds: 30,
        asg: {
          name: 'web-asg',
          mode: 'surge',
          desiredBefore: 3,
          minSize: 1,
          maxSize: 4,
          instancesBefore: [OLD, ...PEERS],
        },
      });
    });

    it('puts the old instance in Standby first at MaxSize when the budget allows the dip, draining everything', async () => {
      account.group('web-asg').max = 3;

      const result = await plan(fakeDeps(account, fakeStore(), { state: budget(50) }), input(), CTX);

      expect(result).toMatchObject({
        strategy: 'asg',
        detail:
          'Auto Scaling group web-asg is at MaxSize 3: the old instance goes to Standby first and the group replaces it (one instance of healthy capacity out meanwhile)',
        disruption: 1,
        drainTargets: result.oldTargets,
        // The longest delay (300 s) capped by maxDrainSeconds.
        drainSeconds: 120,
        asg: { mode: 'standby-first', desiredBefore: 3, maxSize: 3 },
      });
    });

    it.each([
      { what: 'in Standby', lifecycle: 'Standby', named: 'Standby' },
      { what: 'leaving its group', lifecycle: 'Terminating:Wait', named: 'Terminating:Wait' },
      { what: 'no member at all', lifecycle: undefined, named: 'not a member' },
    ])(
      'asks for manual action for an instance $what: someone else manages it',
      async ({ lifecycle, named }) => {
        const group = account.group('web-asg');
        group.members = group.members.flatMap((m) =>
          m.id !== OLD ? [m] : lifecycle === undefined ? [] : [{ ...m, lifecycle }],
        );

        const result = await plan(fakeDeps(account, fakeStore(), { state: budget(50) }), input(), CTX);

        expect(result).toMatchObject({
          strategy: 'manual-action-required',
          detail: `instance ${OLD} is ${named} in Auto Scaling group web-asg, not InService: someone else is managing it`,
          disruption: 0,
          replacementTargetGroups: [],
          drainTargets: result.oldTargets,
        });
        expect(result.asg).toBeUndefined();
      },
    );

    it('asks for manual action at MaxSize when the budget forbids any dip and nothing else is in flight', async () => {
      account.group('web-asg').max = 3;
      const store = fakeStore({ getGroupLock: async () => undefined, listLeases: async () => [] });

      const result = await plan(fakeDeps(account, store, { state: budget(100) }), input(), CTX);

      expect(result.strategy).toBe('manual-action-required');
      expect(result.detail).toBe(
        'no headroom: Auto Scaling group web-asg is at MaxSize 3 and minHealthyPercent 100 forbids taking one out first (3 of 3 must stay healthy); raise MaxSize by 1',
      );
    });

    it.each([
      { what: 'another execution holds the group lock', lock: lockBy(OTHER_EXECUTION), leases: [] },
      {
        what: 'another execution holds a lease of the fleet',
        lock: undefined,
        leases: [{ sk: 'slot#0', holder: OTHER_EXECUTION, instanceId: PEERS[0] ?? '', expiresAt: 1 }],
      },
    ])(
      'waits for the budget, not for a human, when $what (its end gives the headroom back)',
      async ({ lock, leases }) => {
        account.group('web-asg').max = 3;
        const store = fakeStore({ getGroupLock: async () => lock, listLeases: async () => leases });

        const result = await plan(fakeDeps(account, store, { state: budget(100) }), input(), CTX);

        expect(result).toMatchObject({ strategy: 'asg', asg: { mode: 'standby-first' } });
      },
    );

    it("counts this execution's own lock and lease as nothing in flight", async () => {
      account.group('web-asg').max = 3;
      const store = fakeStore({
        getGroupLock: async () => lockBy(EXECUTION),
        listLeases: async () => [{ sk: 'slot#0', holder: EXECUTION, instanceId: OLD, expiresAt: 1 }],
      });
      const result = await plan(fakeDeps(account, store, { state: budget(100) }), input(), CTX);
      expect(result.strategy).toBe('manual-action-required');
    });

    it('asks for manual action for a group pinned at MinSize = MaxSize without asking who is in flight', async () => {
      Object.assign(account.group('web-asg'), { min: 3, max: 3 });

      // No store method is scripted: asking would fail the test.
      const result = await plan(fakeDeps(account, fakeStore(), { state: budget(0) }), input(), CTX);

      expect(result).toMatchObject({
        strategy: 'manual-action-required',
        detail:
          'Auto Scaling group web-asg is pinned at min 3 = max 3 = desired 3: no room to launch first and no safe way back; raise MaxSize by one',
      });
    });

    it("plans from the recheck's snapshot without reading the instance or the group again", async () => {
      const data: MachineData = {
        ...input(),
        recheck: {
          decision: 'proceed',
          reason: 'drifted',
          detail: 'still drifted',
          notify: false,
          timings: {
            healthCheckIntervalSeconds: 15,
            healthCheckMaxAttempts: 5,
            maxDrainSeconds: 120,
            leaseTtlSeconds: 3600,
          },
          checkedAt: '2025-06-15T12:04:59.000Z',
          snapshot: {
            instance: {
              vpcId: VPC,
              subnetId: SUBNET,
              launchedFromTemplate: true,
              autoScalingGroup: 'web-asg',
            },
            group: {
              name: 'web-asg',
              desired: 5,
              min: 1,
              max: 6,
              targetGroupArns: [WEB_TG],
              members: [{ id: OLD, lifecycle: 'InService', healthy: true }],
            },
          },
        },
      };

      const result = await plan(fakeDeps(account, fakeStore(), { state: budget(50) }), data, CTX);

      expect(result.asg).toMatchObject({ desiredBefore: 5, maxSize: 6, instancesBefore: [OLD] });
      expect(account.ec2.calls).toEqual([]);
      expect(account.autoScaling.calls).toEqual([]);
    });

    it('fails with InstanceGoneError when there is no snapshot and the instance is gone', async () => {
      account.setState(OLD, 'shutting-down');
      await expect(plan(fakeDeps(account, fakeStore()), input(), CTX)).rejects.toThrow(
        new InstanceGoneError(`instance ${OLD} is shutting-down`),
      );
    });
  });

  describe('a standalone instance', () => {
    let account: FakeAccount;
    beforeEach(() => {
      account = new FakeAccount();
      seedApiInstance(account);
    });

    it('launches from the pinned version in the same subnet with the declared, selector and lineage tags', async () => {
      const result = await plan(fakeDeps(account, fakeStore(), { state: budget(50) }), input('api'), CTX);

      expect(result).toMatchObject({
        strategy: 'standalone',
        detail: `standalone instance: launch from ${API_LT} version 2 in ${SUBNET}, register in 1 target group(s), then drain and terminate the old one`,
        disruption: 0,
        oldTargets: [{ targetGroupArn: HAND_TG, port: 8080 }],
        drainTargets: [{ targetGroupArn: HAND_TG, port: 8080 }],
        replacementTargetGroups: [HAND_TG],
        drainSeconds: 30,
      });
      expect(result.standalone?.subnetId).toBe(SUBNET);
      expect(result.standalone?.networkInterfaces).toBeUndefined();
      expect(result.standalone?.tagSpecifications).toEqual([
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'Owner', Value: 'team-api' },
            { Key: 'App', Value: 'api' },
            { Key: REPLACES_TAG, Value: OLD },
            { Key: EXECUTION_TAG, Value: 'run-1' },
          ],
        },
      ]);
    });

    it('gives a retry the same idempotency token, and another execution another', async () => {
      const deps = fakeDeps(account, fakeStore());
      const first = await plan(deps, input('api'), CTX);
      const again = await plan(deps, input('api'), CTX);
      const other = await plan(deps, input('api'), { executionId: `${CTX.executionId}-b` });
      expect(first.standalone?.clientToken).toMatch(/^[0-9a-f]{64}$/);
      expect(again.standalone?.clientToken).toBe(first.standalone?.clientToken);
      expect(other.standalone?.clientToken).not.toBe(first.standalone?.clientToken);
    });

    it.each([
      {
        what: 'has no subnet',
        arrange: (a: FakeAccount) => {
          const old = a.instances.get(OLD);
          if (old) delete old.subnetId;
        },
        detail: `instance ${OLD} has no subnet: Phoenix cannot launch its replacement in the same place`,
      },
      {
        what: 'was not launched from a launch template',
        arrange: (a: FakeAccount) => {
          const old = a.instances.get(OLD);
          if (old) old.tags = { App: 'api' };
        },
        detail: `instance ${OLD} was not launched from a launch template and is in no Auto Scaling group: a fresh instance may not replace it like for like (volumes, interfaces, addresses)`,
      },
    ])('asks for manual action for an instance that $what', async ({ arrange, detail }) => {
      arrange(account);
      const result = await plan(fakeDeps(account, fakeStore()), input('api'), CTX);
      expect(result).toMatchObject({
        strategy: 'manual-action-required',
        detail,
        replacementTargetGroups: [],
      });
      expect(result.standalone).toBeUndefined();
    });
  });
});
