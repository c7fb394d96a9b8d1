/**
 * The remediation definition passes `asl-validator` (the Amazon States Language schema, JSON
 * paths, transitions, terminal states, intrinsic functions, ARNs), checked the way Step
 * Functions checks it at CreateStateMachine: after CloudFormation has substituted the
 * `${…}` placeholders. A definition Step Functions would refuse fails `npm test`, not a deploy.
 */
import validate from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { substitutedDefinition } from '../../functions/local/step-functions/definition';

/** What CloudFormation substitutes, shaped as the deployed stack's values are. */
const DEPLOYED = {
  StepsFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:Phoenix-RemediationSteps0A1B2C3D:live',
  TableName: 'Phoenix-StateTable0A1B2C3D-1A2B3C4D5E6F',
  TopicArn: 'arn:aws:sns:eu-central-1:123456789012:Phoenix-Notifications0A1B2C3D-1A2B3C4D5E6F',
};

const errorsOf = (result: ReturnType<typeof validate>) =>
  result.errors.map((e) => `${e['Error code']}: ${e.Message}`);

describe('state-machines/remediate-instance.asl.json', () => {
  it('is valid ASL once its placeholders are substituted, ARNs and paths checked', () => {
    const result = validate(substitutedDefinition(DEPLOYED), { checkArn: true, checkPaths: true });

    expect(errorsOf(result)).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('would be refused with a transition to a state that does not exist (the validator does check)', () => {
    const broken = substitutedDefinition(DEPLOYED) as unknown as {
      States: Record<string, { Next?: string }>;
    };
    const recheck = broken.States.Recheck;
    if (recheck === undefined) throw new Error('no Recheck state');
    recheck.Next = 'NoSuchState';

    const result = validate(broken, { checkArn: true, checkPaths: true });

    expect(result.isValid).toBe(false);
    expect(errorsOf(result).join('\n')).toContain('NoSuchState');
  });
});
