/**
 * The evaluator's calls answer to IAM too: with one grant taken out of its synthesized policy,
 * a hand-edited tag is still judged drifted, but the remediation cannot start, and the
 * scenario fails naming the evaluator's role, the action and the state machine it was refused.
 */
import { describe, expect, it } from 'vitest';
import { takeDenials } from '../helpers/iam/gate';
import { compile, e2eAccount, iamGateFor, reconcilerFor, seedAsgFleet, tagByHand } from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    tags: { Owner: team-web }
    team: storefront
`);

describe('end to end: a grant missing from the evaluator role', () => {
  it('judges the drift but cannot start the remediation, and says which statement is missing', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    const web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
    const [target = ''] = web.instanceIds;
    const phoenix = reconcilerFor(account, STATE, undefined, {
      hooks: {
        gate: iamGateFor(account, STATE, {
          withoutGrant: { principal: 'evaluator', action: 'states:StartExecution' },
        }),
      },
    });

    // The evaluator does everything else, then fails the invocation (so it is retried, then kept).
    await expect(
      phoenix.handle(await tagByHand(account, [target], { Owner: 'alice' }, { by: 'alice' })),
    ).rejects.toMatchObject({
      name: 'DetectionIncompleteError',
      message: expect.stringContaining(`acting on ${target}: AccessDeniedException`),
    });

    expect(phoenix.started).toEqual([]);
    const denied = takeDenials();
    expect(denied.map((d) => `${d.principal} ${d.action}`)).toEqual(['evaluator states:StartExecution']);
    expect(denied[0]?.message).toMatch(
      /the evaluator function's role \(PhoenixEvaluatorRole\w+\) may not states:StartExecution on arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance[\s\S]*missing: +\{"Effect":"Allow","Action":"states:StartExecution"/,
    );
  });
});
