import { ConfigServiceServiceException, LimitExceededException } from '@aws-sdk/client-config-service';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { describeAwsError } from '../../functions/aws/describe-error';

const THROTTLED = /^AWS throttled the requests \(/;

describe('describeAwsError: throttled and unreachable are the transient classifier’s reasons', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'Config’s LimitExceededException (its throttle)',
      new LimitExceededException({ message: 'x', $metadata: { httpStatusCode: 400, attempts: 3 } }),
      /^AWS throttled the requests \(LimitExceededException \(3 attempts\)\)/,
    ],
    [
      'any code answered HTTP 429',
      new ConfigServiceServiceException({
        name: 'Whatever',
        $fault: 'client',
        $metadata: { httpStatusCode: 429 },
        message: 'x',
      }),
      THROTTLED,
    ],
    [
      'the SDK’s own timeout',
      Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }),
      /^cannot reach AWS \(Connection timed out after 1000 ms\)/,
    ],
    [
      'every address refused',
      Object.assign(
        new AggregateError(
          [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
          '',
        ),
        { code: 'ECONNREFUSED' },
      ),
      /^cannot reach AWS \(connect ECONNREFUSED 127\.0\.0\.1:1\)/,
    ],
    [
      'a proxy’s 429 page is not AWS throttling',
      Object.assign(new SyntaxError('Unexpected token < Deserialization error: …'), {
        $metadata: { httpStatusCode: 429 },
        $response: { statusCode: 429, headers: { 'content-type': 'text/html' } },
      }),
      /^the endpoint answered HTTP 429 \(text\/html\), not as AWS answers/,
    ],
    [
      'a 5xx is named with its status, not called throttling',
      new EC2ServiceException({
        name: 'InternalError',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'EC2 had a moment',
      }),
      /^InternalError: EC2 had a moment \(HTTP 503\)$/,
    ],
  ])('%s', (_label, error, expected) => {
    expect(describeAwsError(error)).toMatch(expected);
  });
});
