import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import type { AfterStateEvent } from '../../functions/local/step-functions/run-events';
import type { RemediationInput } from '../../functions/remediation/input';
import {
  desiredState,
  printFigures,
  seedDriftedStandaloneFleet,
  type TestAccount,
  targetsOf,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
    team: api
`);

describe('remediating a drifted standalone instance', () => {
  let account: TestAccount;
  let fleet: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;
  let firstInput: RemediationInput | undefined;

  beforeAll(async () => {
    account = await testAccount();
    fleet = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 2 });
  });

  it('launches the replacement in the same subnet and target groups, then deregisters and terminates the old one', async () => {
    const [old = '', sibling = ''] = fleet.instanceIds;
    const [before] = await describeInstances(account.clients.ec2, [old]);
    const input = await account.inputFor(STATE, old);
    firstInput = input;
    const timeline: Array<{ state: string; oldState: string | undefined; oldTarget: string | undefined }> =
      [];

    const result = await account.remediate(input, STATE, {
      hooks: {
        afterState: async ({ state }: AfterStateEvent) => {
          const [now] = await describeInstances(account.clients.ec2, [old]);
          timeline.push({
            state,
            oldState: now?.state,
            oldTarget: (await targetsOf(account.clients, fleet.targetGroupArn))[old],
          });
        },
      },
    });

    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { outcome: 'succeeded' } });
    const replacementId = (result.output as { replacementId: string }).replacementId;
    const [replacement] = await describeInstances(account.clients.ec2, [replacementId]);
    expect(replacement).toMatchObject({
      state: 'running',
      subnetId: before?.subnetId,
      imageId: fleet.newImage,
      launchTemplate: { id: fleet.template.id, version: '2' },
      tags: expect.objectContaining({ App: 'api', Owner: 'team-api', 'phoenix:replaces': old }),
    });

    // Registered where the old one was (same port), the sibling untouched, the old one gone.
    const targets = await targetsOf(account.clients, fleet.targetGroupArn);
    expect(targets).toEqual({ [replacementId]: 'healthy', [sibling]: 'healthy' });
    const [oldAfter] = await describeInstances(account.clients.ec2, [old]);
    expect(oldAfter?.state).toBe('terminated');

    // Deregistered first (still running, out of the target group), terminated after.
    const drained = timeline.find((t) => t.state === 'DeregisterOldTarget');
    expect(drained).toMatchObject({ oldState: 'running', oldTarget: undefined });
    const terminated = timeline.find((t) => t.state === 'RetireOld');
    expect(terminated?.oldState).toMatch(/shutting-down|terminated/);
    expect(timeline.findIndex((t) => t.state === 'DeregisterOldTarget')).toBeLessThan(
      timeline.findIndex((t) => t.state === 'RetireOld'),
    );

    const notes = await account.notifications();
    expect(notes.map((n) => n.event)).toEqual(['remediation.started', 'remediation.succeeded']);
    printFigures('standalone instance, happy path', result);
  });

  it('re-running the same remediation afterwards does nothing: the instance is gone', async () => {
    if (firstInput === undefined) throw new Error('the first test did not run');
    const result = await account.remediate(firstInput, STATE, {
      executionName: 'rerun',
    });
    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'instance-gone' });
  });
});
