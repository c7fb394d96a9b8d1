import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import type { AfterStateEvent } from '../../functions/local/step-functions/run-events';
import type { RecheckResult } from '../../functions/remediation/input';
import {
  desiredState,
  MUTATING_OPERATIONS,
  printFigures,
  seedDriftedAsgFleet,
  type TestAccount,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    window: { timezone: Europe/Berlin, allow: ["Mon-Fri 09:00-17:00"] }
`);

/** Saturday noon in Berlin: the window is closed until Monday 09:00 (07:00 UTC in summer). */
const SATURDAY = new Date('2025-06-14T10:00:00Z');
const MONDAY_OPENING = '2025-06-16T07:00:00.000Z';
/** Tuesday 10:00 in Berlin: open. */
const TUESDAY = new Date('2025-06-17T08:00:00Z');

describe('maintenance windows and transient failures', () => {
  let account: TestAccount;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount({ start: SATURDAY });
    web = await seedDriftedAsgFleet(account.clients, { name: 'web', desired: 3, max: 5 });
  });

  it('outside the window: waits until it opens, rechecks, then replaces', async () => {
    account.clock.now = SATURDAY;
    const [old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);
    const changesAt: string[] = [];

    const result = await account.remediate(input, STATE, {
      hooks: {
        afterState: ({ state, resource, output }: AfterStateEvent) => {
          // The Wait state takes no time here: play the clock forward to the opening it waits for.
          const recheck = output as RecheckResult | undefined;
          if (state === 'Recheck' && recheck?.decision === 'wait') {
            expect(recheck.windowOpensAt).toBe(MONDAY_OPENING);
            account.clock.now = new Date(recheck.windowOpensAt ?? '');
          }
          if (resource === 'lambda' ? GROUP_CHANGING_STEPS.has(state) : isMutating(resource))
            changesAt.push(account.now().toISOString());
        },
      },
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    const entered = result.events.filter((e) => e.type === 'StateEntered').map((e) => e.state);
    expect(entered.slice(0, 4)).toEqual(['Recheck', 'RecheckDecision', 'WaitForWindow', 'Recheck']);
    expect(changesAt.length).toBeGreaterThan(0);
    for (const at of changesAt) expect(at >= MONDAY_OPENING).toBe(true);
  });

  it('throttling on any kind of step is retried with backoff and the replacement still succeeds', async () => {
    account.clock.now = TUESDAY;
    const [, old = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, old);
    const throttle = {
      Recheck: 2,
      AcquireLease: 1,
      RaiseDesiredCapacity: 2,
      CheckReplacementHealth: 1,
      RetireOld: 3,
    };

    const result = await account.remediate(input, STATE, {
      hooks: {
        faults: { throttle },
      },
    });

    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    const retried: Record<string, number> = {};
    for (const e of result.events)
      if (e.type === 'StateRetried' && e.state) retried[e.state] = (retried[e.state] ?? 0) + 1;
    expect(retried).toEqual(throttle);
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('terminated');
    printFigures('ASG member with 9 injected throttles', result);
  });
});

/** Steps-Lambda states that change the fleet: a group, a launch (the others only read or bookkeep). */
const GROUP_CHANGING_STEPS: ReadonlySet<string> = new Set([
  'RaiseDesiredCapacity',
  'StandbyOldFirst',
  'LaunchStandaloneReplacement',
  'RetireOld',
]);

function isMutating(resource: string): boolean {
  const [service = '', action = ''] = resource.split(':');
  const name = `${{ ec2: 'EC2', autoscaling: 'AutoScaling', elasticloadbalancingv2: 'ELBv2' }[service] ?? service}.${action.charAt(0).toUpperCase()}${action.slice(1)}`;
  return (MUTATING_OPERATIONS as readonly string[]).includes(name);
}
