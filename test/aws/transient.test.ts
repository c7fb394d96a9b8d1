import {
  AutoScalingServiceException,
  ResourceContentionFault,
  ScalingActivityInProgressFault,
} from '@aws-sdk/client-auto-scaling';
import { ConfigServiceServiceException, LimitExceededException } from '@aws-sdk/client-config-service';
import {
  ConditionalCheckFailedException,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ReplicatedWriteConflictException,
  RequestLimitExceeded,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { InternalErrorException, NotFoundException, ThrottledException } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { isTransientAwsError, type TransientReason, transientFailureOf } from '../../functions/aws/transient';
import { InvalidInputError } from '../../functions/domain/errors';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/** An EC2 error as SDK v3 deserializes one: EC2 models no errors, the code is the name. */
function ec2Error(code: string, status: number): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    ...meta(status),
    message: `${code} happened`,
  });
}

/** Node's own shape of a socket failure (`code`, `errno`, `syscall`). */
function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect' });
}

describe('transientFailureOf: one classifier of AWS failures that pass, over real SDK exceptions', () => {
  it.each<[string, unknown, TransientReason | undefined]>([
    // Throttling, by each service's own modeled exception or EC2's code.
    [
      'DynamoDB ProvisionedThroughputExceededException',
      new ProvisionedThroughputExceededException({ message: 'x', ...meta(400) }),
      'throttling',
    ],
    ['DynamoDB RequestLimitExceeded', new RequestLimitExceeded({ message: 'x', ...meta(400) }), 'throttling'],
    ['DynamoDB ThrottlingException', new ThrottlingException({ message: 'x', ...meta(400) }), 'throttling'],
    [
      'SNS ThrottledException',
      new ThrottledException({ message: 'Rate exceeded', ...meta(400) }),
      'throttling',
    ],
    [
      'Config LimitExceededException (its throttle)',
      new LimitExceededException({ message: 'x', ...meta(400) }),
      'throttling',
    ],
    ['EC2 RequestLimitExceeded, even as a 503', ec2Error('RequestLimitExceeded', 503), 'throttling'],
    [
      'Config Throttling (unmodeled, by code)',
      new ConfigServiceServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        ...meta(400),
        message: 'x',
      }),
      'throttling',
    ],
    [
      'TooManyRequestsException (unmodeled, by code)',
      new ConfigServiceServiceException({
        name: 'TooManyRequestsException',
        $fault: 'client',
        ...meta(400),
        message: 'x',
      }),
      'throttling',
    ],
    [
      'any code answered HTTP 429',
      new ConfigServiceServiceException({ name: 'Whatever', $fault: 'client', ...meta(429), message: 'x' }),
      'throttling',
    ],
    [
      'the SDK marks a throttle ($retryable.throttling)',
      Object.assign(new Error('x'), { name: 'Whatever', $retryable: { throttling: true } }),
      'throttling',
    ],
    // A failure on AWS's side.
    ['EC2 InternalError 500', ec2Error('InternalError', 500), 'server'],
    ['EC2 Unavailable 503 (by status alone)', ec2Error('Unavailable', 503), 'server'],
    ['DynamoDB InternalServerError', new InternalServerError({ message: 'x', ...meta(500) }), 'server'],
    [
      'SNS InternalErrorException (modeled server fault, status lost)',
      new InternalErrorException({ message: 'x', $metadata: {} }),
      'server',
    ],
    ['a RequestTimeout answered 400', ec2Error('RequestTimeout', 400), 'server'],
    // Another change of the same group.
    [
      'Auto Scaling ScalingActivityInProgressFault',
      new ScalingActivityInProgressFault({ message: 'x', ...meta(400) }),
      'contention',
    ],
    [
      'Auto Scaling ResourceContentionFault (modeled a server fault)',
      new ResourceContentionFault({ message: 'x', ...meta(500) }),
      'contention',
    ],
    // The model says retryable.
    [
      'DynamoDB ReplicatedWriteConflictException ($retryable: {})',
      new ReplicatedWriteConflictException({ message: 'x', ...meta(400) }),
      'retryable',
    ],
    // Nothing answered.
    ['a refused connection', socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'network'],
    ['a reset socket', socketError('ECONNRESET', 'socket hang up'), 'network'],
    [
      'a name that does not resolve',
      socketError('ENOTFOUND', 'getaddrinfo ENOTFOUND ec2.nowhere'),
      'network',
    ],
    [
      'the SDK’s own timeout',
      Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }),
      'network',
    ],
    [
      'every address refused (AggregateError)',
      Object.assign(
        new AggregateError(
          [
            socketError('ECONNREFUSED', 'connect ECONNREFUSED ::1:1'),
            socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'),
          ],
          '',
        ),
        { code: 'ECONNREFUSED' },
      ),
      'network',
    ],
    [
      'a socket error as the cause',
      new Error('request failed', { cause: socketError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:443') }),
      'network',
    ],
    // Refusals no retry changes.
    ['EC2 InvalidParameterCombination', ec2Error('InvalidParameterCombination', 400), undefined],
    ['EC2 UnauthorizedOperation', ec2Error('UnauthorizedOperation', 403), undefined],
    ['EC2 AuthFailure', ec2Error('AuthFailure', 401), undefined],
    [
      'DynamoDB ConditionalCheckFailedException',
      new ConditionalCheckFailedException({ message: 'x', ...meta(400) }),
      undefined,
    ],
    ['SNS NotFoundException', new NotFoundException({ message: 'x', ...meta(404) }), undefined],
    [
      'Auto Scaling ValidationError',
      new AutoScalingServiceException({
        name: 'ValidationError',
        $fault: 'client',
        ...meta(400),
        message: 'x',
      }),
      undefined,
    ],
    [
      'AccessDeniedException',
      new ConfigServiceServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        ...meta(400),
        message: 'x',
      }),
      undefined,
    ],
    [
      'Config InvalidResultTokenException',
      new ConfigServiceServiceException({
        name: 'InvalidResultTokenException',
        $fault: 'client',
        ...meta(400),
        message: 'x',
      }),
      undefined,
    ],
    ['a Phoenix error', new InvalidInputError('bad flag'), undefined],
    ['a plain Error', new Error('boom'), undefined],
    ['a string', 'ThrottlingException', undefined],
    ['undefined', undefined, undefined],
  ])('%s → %s', (_label, error, reason) => {
    expect(transientFailureOf(error)?.reason).toBe(reason);
    expect(isTransientAwsError(error)).toBe(reason !== undefined);
  });

  it('names the AWS code, and for a network failure the socket’s code and message', () => {
    expect(transientFailureOf(ec2Error('RequestLimitExceeded', 503))).toEqual({
      reason: 'throttling',
      code: 'RequestLimitExceeded',
      message: 'RequestLimitExceeded happened',
    });
    const aggregate = Object.assign(
      new AggregateError([socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')], ''),
      {
        code: 'ECONNREFUSED',
      },
    );
    expect(transientFailureOf(aggregate)).toEqual({
      reason: 'network',
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:1',
    });
  });

  it('does not loop on a cause chain that comes back to itself', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(transientFailureOf(a)).toBeUndefined();
  });

  it('classifies what a real SDK client throws when nothing listens', async () => {
    const ec2 = new EC2Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const error = await ec2.send(new DescribeInstancesCommand({})).then(
      () => undefined,
      (e: unknown) => e,
    );
    ec2.destroy();
    expect(transientFailureOf(error)).toMatchObject({ reason: 'network', code: 'ECONNREFUSED' });
  });
});
