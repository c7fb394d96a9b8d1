import { beforeEach, describe, expect, it } from 'vitest';
import { describeInstances, resolveLaunchTemplate } from '../../../functions/aws/inventory';
import type { InstanceClaim, RemediationGate } from '../../../functions/aws/remediation-store';
import { evaluateDrift } from '../../../functions/domain/drift/engine';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import type { MachineData } from '../../../functions/remediation/input';
import { recheck } from '../../../functions/remediation/steps';
import { compileYaml } from '../../helpers/account';
import {
  CTX,
  EXECUTION,
  FakeAccount,
  fakeDeps,
  fakeStore,
  NOW,
  OTHER_EXECUTION,
  STATE,
  SUBNET,
  VPC,
} from './fakes';
import { API_LT, input, OLD, PEERS, seedApiInstance, seedWebGroup, WEB_LT } from './state';

const OPEN: RemediationGate = { pause: { paused: false } };

function stateWith(webFleet: string): CompiledDesiredState {
  return compileYaml(
    `
version: 1
defaults: { mode: enforce }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
${webFleet}
`,
    { commit: 'abc1234', sha256: 'a'.repeat(64) },
  );
}

/** The input detection would build now: the fingerprint of the drift the account shows. */
async function detected(account: FakeAccount, state: CompiledDesiredState, fleetName: 'web' | 'api') {
  const [instance] = await describeInstances(account.ec2, [OLD]);
  const fleet = state.fleets.find((f) => f.name === fleetName);
  if (instance === undefined || fleet === undefined) throw new Error('no instance or fleet');
  const template = await resolveLaunchTemplate(account.ec2, fleet.launchTemplate);
  const verdict = evaluateDrift({ instance, fleet, template, now: NOW });
  if (verdict.status !== 'drifted') throw new Error(`not drifted: ${verdict.status}`);
  account.ec2.calls.length = 0;
  return { ...input(fleetName), fingerprint: verdict.fingerprint };
}

const claim = (over: Partial<InstanceClaim> = {}): InstanceClaim => ({
  instanceId: OLD,
  holder: OTHER_EXECUTION,
  acquiredAt: '2025-06-15T12:00:00.000Z',
  expiresAt: 1_750_000_000,
  ...over,
});

const QUARANTINE = {
  fleet: 'web',
  templateId: WEB_LT,
  version: 2,
  cause: 'ReplacementUnhealthyError: never healthy',
  execution: 'run-0',
  at: '2025-06-14T10:00:00.000Z',
};

describe('recheck', () => {
  let account: FakeAccount;
  let data: MachineData;
  beforeEach(async () => {
    account = new FakeAccount();
    seedWebGroup(account);
    data = await detected(account, STATE, 'web');
  });

  it('lets a still drifted member go on, with the instance and its group read once for the plan', async () => {
    const store = fakeStore({ remediationGate: async () => OPEN });

    const result = await recheck(fakeDeps(account, store), data, CTX);

    expect(result).toMatchObject({
      decision: 'proceed',
      reason: 'drifted',
      detail: 'still drifted: image imageId',
      checkedAt: NOW.toISOString(),
      snapshot: {
        instance: { vpcId: VPC, subnetId: SUBNET, launchedFromTemplate: true, autoScalingGroup: 'web-asg' },
        group: {
          name: 'web-asg',
          desired: 3,
          min: 1,
          max: 4,
          members: [OLD, ...PEERS].map((id) => ({ id, lifecycle: 'InService', healthy: true })),
        },
      },
    });
    expect(result.snapshot?.template).toBeUndefined();
    expect(store.calls).toEqual([
      {
        method: 'remediationGate',
        args: [{ fleet: 'web', templateId: WEB_LT, version: 2 }, OLD],
      },
    ]);
    expect(account.changes()).toEqual([]);
  });

  it.each([
    {
      what: 'an instance EC2 no longer knows',
      arrange: (a: FakeAccount) => a.instances.delete(OLD),
      reason: 'instance-gone',
      detail: `instance ${OLD} is gone: nothing to replace`,
      notify: false,
    },
    {
      what: 'a terminated instance',
      arrange: (a: FakeAccount) => a.setState(OLD, 'terminated'),
      reason: 'instance-gone',
      detail: `instance ${OLD} is terminated: nothing to replace`,
      notify: false,
    },
    {
      what: 'an instance no fleet selects any more',
      arrange: (a: FakeAccount) => {
        const old = a.instances.get(OLD);
        if (old) old.tags['aws:autoscaling:groupName'] = 'other-asg';
      },
      reason: 'not-in-fleet',
      detail: /no declared fleet selects/,
      notify: true,
    },
    {
      what: 'a template whose default version moved on',
      arrange: (a: FakeAccount) => {
        for (const t of a.templates) t.DefaultVersion = false;
        a.addTemplate({ id: WEB_LT, name: 'web-lt', version: 3, imageId: 'ami-newer' });
      },
      reason: 'template-changed',
      detail: `fleet web now resolves to launch template ${WEB_LT} version 3, not the pinned ${WEB_LT} version 2; the remediation for the new version takes over`,
      notify: false,
    },
    {
      what: 'an instance fixed meanwhile',
      arrange: (a: FakeAccount) => {
        const old = a.instances.get(OLD);
        if (old) old.imageId = 'ami-new';
      },
      reason: 'in-sync',
      detail: `instance ${OLD} is no longer drifted`,
      notify: false,
    },
    {
      what: 'an instance drifted differently now',
      arrange: (a: FakeAccount) => {
        const old = a.instances.get(OLD);
        if (old) old.instanceType = 'm5.large';
      },
      reason: 'drift-changed',
      detail:
        /is drifted differently now \(fingerprint v1-\w+ → v1-\w+\); the remediation for the new drift takes over/,
      notify: false,
    },
  ])('ends skipped for $what, before reading the gate', async ({ arrange, reason, detail, notify }) => {
    arrange(account);
    // The gate is not read: no store method is scripted.
    const result = await recheck(fakeDeps(account, fakeStore()), data, CTX);

    expect(result).toMatchObject({ decision: 'skip', reason, notify });
    expect(result.detail).toEqual(typeof detail === 'string' ? detail : expect.stringMatching(detail));
    expect(account.changes()).toEqual([]);
  });

  it('ends skipped when the execution names another fleet than the one the instance is in now', async () => {
    const result = await recheck(fakeDeps(account, fakeStore()), { ...data, fleet: 'api' }, CTX);
    expect(result).toMatchObject({
      decision: 'skip',
      reason: 'not-in-fleet',
      detail: `instance ${OLD} now belongs to fleet web, not api`,
      notify: true,
    });
  });

  it('ends skipped when the fleet is no longer enforced', async () => {
    const state = stateWith('    mode: notify');
    const result = await recheck(fakeDeps(account, fakeStore(), { state }), data, CTX);
    expect(result).toMatchObject({
      reason: 'not-enforcing',
      detail: 'fleet web is in notify mode: Phoenix does not replace its instances',
      notify: true,
    });
  });

  it("fails with the template's own error when the fleet's template cannot be resolved, unless a higher blocker ends it", async () => {
    account.templates.length = 0;
    await expect(recheck(fakeDeps(account, fakeStore()), data, CTX)).rejects.toMatchObject({
      name: 'LaunchTemplateNotFoundError',
    });
    const state = stateWith('    mode: observe');
    expect(await recheck(fakeDeps(account, fakeStore(), { state }), data, CTX)).toMatchObject({
      decision: 'skip',
      reason: 'not-enforcing',
      detail: 'fleet web is in observe mode: Phoenix does not replace its instances',
    });
  });

  it('ends skipped for an excluded instance', async () => {
    const api = new FakeAccount();
    seedApiInstance(api);
    const apiData = await detected(api, STATE, 'api');
    const old = api.instances.get(OLD);
    if (old) old.tags['phoenix:skip'] = 'true';

    const result = await recheck(fakeDeps(api, fakeStore()), apiData, CTX);

    expect(result).toMatchObject({
      decision: 'skip',
      reason: 'excluded',
      detail: `instance ${OLD} carries the exclusion tag phoenix:skip=true of fleet api`,
      notify: true,
    });
  });

  describe('the gate', () => {
    it.each([
      {
        what: 'another execution replacing the instance',
        gate: { ...OPEN, instanceClaim: claim() },
        reason: 'in-flight-elsewhere',
        detail: new RegExp(`^instance ${OLD} is being replaced by execution ${OTHER_EXECUTION}`),
        notify: false,
      },
      {
        what: 'another execution that replaced the instance',
        gate: { ...OPEN, instanceClaim: claim({ replacedBy: 'i-0000000000000009' }) },
        reason: 'already-replaced',
        detail: new RegExp(`^instance ${OLD} was already replaced by i-0000000000000009`),
        notify: false,
      },
      {
        what: 'the pause switch',
        gate: { pause: { paused: true, by: 'ops', at: '2025-06-15T11:00:00.000Z' } },
        reason: 'paused',
        detail:
          /^remediation is paused \(by ops at 2025-06-15T11:00:00.000Z\); run `phoenix resume` to allow it again$/,
        notify: true,
      },
      {
        what: 'a quarantined version',
        gate: { ...OPEN, quarantine: QUARANTINE },
        reason: 'quarantined',
        detail:
          /^launch template web-lt version 2 is quarantined for fleet web since 2025-06-14T10:00:00.000Z \(ReplacementUnhealthyError: never healthy\); lift the quarantine or publish a fixed version$/,
        notify: true,
      },
    ])('ends skipped for $what', async ({ gate, reason, detail, notify }) => {
      const store = fakeStore({ remediationGate: async () => gate });
      const result = await recheck(fakeDeps(account, store), data, CTX);
      expect(result).toMatchObject({
        decision: 'skip',
        reason,
        notify,
        detail: expect.stringMatching(detail),
      });
    });

    it('ends skipped for a group on a launch configuration, after reading the claim (a claim elsewhere outranks it)', async () => {
      delete account.group('web-asg').launchTemplate;
      const store = fakeStore({ remediationGate: async () => OPEN });

      const result = await recheck(fakeDeps(account, store), data, CTX);

      expect(result).toMatchObject({
        decision: 'skip',
        reason: 'source-drift',
        notify: true,
        detail:
          'Auto Scaling group web-asg launches from a launch configuration, not a launch template: a replacement would not be built from what Git declares',
      });
      expect(store.calls.map((c) => c.method)).toEqual(['remediationGate']);
      const claimed = fakeStore({ remediationGate: async () => ({ ...OPEN, instanceClaim: claim() }) });
      expect(await recheck(fakeDeps(account, claimed), data, CTX)).toMatchObject({
        reason: 'in-flight-elsewhere',
      });
      expect(account.changes()).toEqual([]);
    });

    it('reads the group before the claim, whichever the gate asks for first (ADR 21: the snapshot is seen before any claim)', async () => {
      let groupsReadFirst: string[] = [];
      const store = fakeStore({
        remediationGate: async () => {
          groupsReadFirst = account.autoScaling.commands();
          return OPEN;
        },
      });

      expect(await recheck(fakeDeps(account, store), data, CTX)).toMatchObject({ decision: 'proceed' });
      expect(groupsReadFirst).toEqual(['DescribeAutoScalingGroups']);
    });

    it("lets this execution's own claim through (a retried recheck)", async () => {
      const store = fakeStore({
        remediationGate: async () => ({ ...OPEN, instanceClaim: claim({ holder: EXECUTION }) }),
      });
      expect(await recheck(fakeDeps(account, store), data, CTX)).toMatchObject({ decision: 'proceed' });
    });

    it('ends skipped for a source that would itself be drifted, saying what to fix', async () => {
      const state = stateWith('    tags: { Owner: team-web }');
      account.group('web-asg').propagatedTags = { Owner: 'team-x' };
      const drifted = await detected(account, state, 'web');
      const store = fakeStore({ remediationGate: async () => OPEN });

      const result = await recheck(fakeDeps(account, store, { state }), drifted, CTX);

      expect(result).toMatchObject({
        decision: 'skip',
        reason: 'source-drift',
        notify: true,
        detail:
          'a fresh instance from launch template web-lt version 2 would itself be drifted (source drift: tags.Owner: expected team-web, source gives team-x); fix Git or the template — Phoenix does not replace in a loop',
      });
    });

    it.each([
      {
        what: 'a claim elsewhere over a pause',
        gate: { pause: { paused: true }, instanceClaim: claim() },
        reason: 'in-flight-elsewhere',
      },
      {
        what: 'a quarantine over a pause',
        gate: { pause: { paused: true }, quarantine: QUARANTINE },
        reason: 'quarantined',
      },
      {
        what: 'a drifted source over a quarantine',
        gate: { ...OPEN, quarantine: QUARANTINE },
        reason: 'source-drift',
        sourceDrift: true,
      },
    ])('reports $what when both hold', async ({ gate, reason, sourceDrift }) => {
      const state = sourceDrift === true ? stateWith('    tags: { Owner: team-web }') : STATE;
      if (sourceDrift === true) account.group('web-asg').propagatedTags = { Owner: 'team-x' };
      const drifted = await detected(account, state, 'web');
      const store = fakeStore({ remediationGate: async () => gate });
      const result = await recheck(fakeDeps(account, store, { state }), drifted, CTX);
      expect(result).toMatchObject({ decision: 'skip', reason });
    });

    it('asks to wait for a closed window, naming when it opens', async () => {
      // NOW is Sunday 12:05 UTC.
      const state = stateWith('    window: { timezone: UTC, allow: ["Mon-Fri 09:00-17:00"] }');
      const store = fakeStore({ remediationGate: async () => OPEN });

      const result = await recheck(fakeDeps(account, store, { state }), data, CTX);

      expect(result).toMatchObject({
        decision: 'wait',
        reason: 'window-closed',
        notify: false,
        windowOpensAt: '2025-06-16T09:00:00.000Z',
        detail: 'outside the maintenance window of fleet web (UTC); waiting until 2025-06-16T09:00:00.000Z',
      });
      expect(result.snapshot).toBeUndefined();
    });

    it('goes on inside the window', async () => {
      const state = stateWith('    window: { timezone: UTC, allow: ["Sun 12:00-13:00"] }');
      const store = fakeStore({ remediationGate: async () => OPEN });
      expect(await recheck(fakeDeps(account, store, { state }), data, CTX)).toMatchObject({
        decision: 'proceed',
      });
    });
  });

  it('snapshots a standalone instance without a group, and a template that defines network interfaces', async () => {
    const api = new FakeAccount();
    seedApiInstance(api);
    const template = api.templates.find((t) => t.LaunchTemplateId === API_LT);
    if (template?.LaunchTemplateData)
      template.LaunchTemplateData.NetworkInterfaces = [{ DeviceIndex: 0, Groups: [] }];
    const apiData = await detected(api, STATE, 'api');
    const store = fakeStore({ remediationGate: async () => OPEN });

    const result = await recheck(fakeDeps(api, store), apiData, CTX);

    expect(result).toMatchObject({ decision: 'proceed' });
    expect(result.snapshot).toEqual({
      instance: { vpcId: VPC, subnetId: SUBNET, launchedFromTemplate: true },
      template: { definesNetworkInterfaces: true },
    });
    expect(api.autoScaling.calls).toEqual([]);
  });
});
