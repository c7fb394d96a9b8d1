import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import { runRemediation } from '../../functions/remediation/local-runner';
import {
  describeGroup,
  desiredState,
  healthyFloor,
  healthyServing,
  printFigures,
  remediationInput,
  seedDriftedAsgFleet,
  type TestAccount,
  targetsOf,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 75 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
`);

describe('remediating a drifted Auto Scaling group member', () => {
  let account: TestAccount;
  let fleet: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    fleet = await seedDriftedAsgFleet(account.clients, { name: 'web', desired: 4, max: 5 });
  });

  it('replaces it from the pinned version, launch before terminate, never below the healthy floor', async () => {
    const [old = ''] = fleet.group.instanceIds;
    const input = await remediationInput(account.clients, STATE, old, account.now());
    const floor = healthyFloor(4, 75);
    const observed: Array<{ state: string; healthy: number }> = [];

    const result = await runRemediation(input, {
      clients: account.local,
      deps: account.deps(STATE),
      waits: 'zero',
      afterState: async ({ state }) => {
        observed.push({ state, healthy: await healthyServing(account.clients, fleet.targetGroupArn) });
      },
    });

    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      output: { outcome: 'succeeded', reason: 'replaced' },
    });
    const replacementId = (result.output as { replacementId: string }).replacementId;

    // The replacement is from the pinned version; the old one is gone; the group is as it was.
    const [replacement] = await describeInstances(account.clients.ec2, [replacementId]);
    expect(replacement).toMatchObject({
      state: 'running',
      imageId: fleet.newImage,
      launchTemplate: { id: fleet.template.id, version: '2' },
    });
    const [oldNow] = await describeInstances(account.clients.ec2, [old]);
    expect(oldNow?.state).toBe('terminated');
    const group = await describeGroup(account.clients, 'web-asg');
    expect(group.DesiredCapacity).toBe(4);
    const members = (group.Instances ?? []).map((i) => i.InstanceId);
    expect(members).toHaveLength(4);
    expect(members).toContain(replacementId);
    expect(members).not.toContain(old);
    const targets = await targetsOf(account.clients, fleet.targetGroupArn);
    expect(targets[replacementId]).toBe('healthy');
    expect(targets[old]).toBeUndefined();

    // Healthy capacity never dipped below the floor, whatever state the execution was in.
    expect(observed.length).toBeGreaterThan(5);
    for (const { state, healthy } of observed)
      expect({ state, healthy: healthy >= floor }).toEqual({ state, healthy: true });

    // The team heard about it: started, then succeeded, with the replacement named.
    const notes = await account.notifications();
    expect(notes.map((n) => n.event)).toEqual(['remediation.started', 'remediation.succeeded']);
    expect(notes[1]).toMatchObject({ fleet: 'web', team: 'web', instanceId: old, replacementId });

    printFigures('ASG member, happy path', result);
  });
});
