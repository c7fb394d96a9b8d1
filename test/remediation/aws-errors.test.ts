import { AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { launchErrorOf, launchFailureOf } from '../../functions/remediation/aws-errors';

const SOURCE = 'launch template lt-0123456789abcdef0 version 3';

/** An EC2 error as SDK v3 deserializes one: the code is the name. */
function ec2Error(code: string, status: number, message = `${code} happened`): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

describe('launchErrorOf: a direct RunInstances, told apart by the EC2 code', () => {
  it.each([
    ['InvalidParameterCombination', 400],
    ['InvalidParameterValue', 400],
    ['InvalidInstanceType.NotFound', 400],
    ['InvalidAMIID.NotFound', 400],
    ['InvalidAMIID.Malformed', 400],
    ['InvalidKeyPair.NotFound', 400],
    ['UnauthorizedOperation', 403],
    ['Unsupported', 400],
    ['InvalidIPAddress.InUse', 400],
  ])('%s: rejected for good, the code in the message', (code, status) => {
    const error = launchErrorOf(ec2Error(code, status), SOURCE, { direct: true });
    expect(error?.name).toBe('LaunchRejectedError');
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`${code}: ${code} happened`);
    expect(error?.message).toContain(SOURCE);
  });

  it.each([
    ['InsufficientInstanceCapacity', 500],
    ['InsufficientHostCapacity', 500],
    ['InsufficientAddressCapacity', 500],
    ['InstanceLimitExceeded', 400],
    ['VcpuLimitExceeded', 400],
    ['InsufficientFreeAddressesInSubnet', 400],
  ])('%s: no capacity now (retried, never a template fault), even as a server error', (code, status) => {
    const error = launchErrorOf(ec2Error(code, status), SOURCE, { direct: true });
    expect(error?.name).toBe('InsufficientCapacityError');
    expect(error?.code).toBe(code);
  });

  it.each([
    ['RequestLimitExceeded', 503],
    ['InternalError', 500],
    ['Unavailable', 503],
    ['AuthFailure', 401],
    ['RequestExpired', 400],
  ])('%s: neither (transient, or about the credentials): left to the step', (code, status) => {
    expect(launchErrorOf(ec2Error(code, status), SOURCE, { direct: true })).toBeUndefined();
  });

  it('a group call: only EC2 launch codes count, not the group’s own validation', () => {
    const groupError = (code: string) =>
      new AutoScalingServiceException({
        name: code,
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: code,
      });
    expect(launchErrorOf(groupError('InvalidInstanceType.NotFound'), SOURCE, { direct: false })?.name).toBe(
      'LaunchRejectedError',
    );
    expect(launchErrorOf(groupError('InvalidAMIID.NotFound'), SOURCE, { direct: false })?.name).toBe(
      'LaunchRejectedError',
    );
    expect(launchErrorOf(groupError('ValidationError'), SOURCE, { direct: false })).toBeUndefined();
    expect(launchErrorOf(groupError('ResourceContention'), SOURCE, { direct: false })).toBeUndefined();
  });

  it.each([
    ['RequestLimitExceeded', 400],
    ['EC2ThrottledException', 400],
    ['ServiceUnavailable', 503],
  ])('%s: whatever its status, passing, so never a rejection of the launch', (code, status) => {
    // A group's call reads codes, not faults: a throttle must not look like a refusal.
    expect(launchErrorOf(ec2Error(code, status), SOURCE, { direct: true })).toBeUndefined();
    expect(launchErrorOf(ec2Error(code, status), SOURCE, { direct: false })).toBeUndefined();
  });
});

describe('launchFailureOf: a launch the group reports failed (AWS launches asynchronously)', () => {
  const activity = (StatusCode: 'Failed' | 'Successful' | 'InProgress', StatusMessage: string) => ({
    ActivityId: 'a-1',
    AutoScalingGroupName: 'web-asg',
    Cause:
      'At 2026-01-01T00:00:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 3 to 4.',
    StartTime: new Date('2026-01-01T00:00:00Z'),
    Description: 'Launching a new EC2 instance.  Status Reason: x. Launching EC2 instance failed.',
    StatusCode,
    StatusMessage,
  });

  it.each([
    "The image id '[ami-0123456789abcdef0]' does not exist. Launching EC2 instance failed.",
    'The specified instance type is not supported. Launching EC2 instance failed.',
    'You are not authorized to use launch template: lt-0123456789abcdef0',
  ])('rejected: %s', (message) => {
    const error = launchFailureOf(activity('Failed', message), SOURCE);
    expect(error?.name).toBe('LaunchRejectedError');
    expect(error?.message).toContain(message);
  });

  it.each([
    'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1a).',
    'You have requested more instances (7) than your current instance limit of 6 allows for the specified instance type.',
  ])('capacity: %s', (message) => {
    expect(launchFailureOf(activity('Failed', message), SOURCE)?.name).toBe('InsufficientCapacityError');
  });

  it('nothing to say about a successful or running launch, or an internal error the group retries', () => {
    expect(launchFailureOf(activity('Successful', ''), SOURCE)).toBeUndefined();
    expect(launchFailureOf(activity('InProgress', ''), SOURCE)).toBeUndefined();
    expect(launchFailureOf(activity('Failed', 'An internal error occurred. Please try again.'), SOURCE)).toBe(
      undefined,
    );
  });
});
