/**
 * How a local run names the errors of the definition's `aws-sdk` Tasks: as Step Functions
 * names them, so the definition's Retry/Catch see what they would see in AWS.
 */
import { ScalingActivityInProgressFault } from '@aws-sdk/client-auto-scaling';
import { ConditionalCheckFailedException, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { TargetGroupNotFoundException } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { stepFunctionsErrorName } from '../../../functions/local/step-functions/tasks';

describe('stepFunctionsErrorName', () => {
  const meta = { $metadata: {}, message: 'm' };
  it.each([
    {
      service: 'autoscaling',
      error: new ScalingActivityInProgressFault(meta),
      name: 'AutoScaling.ScalingActivityInProgressException',
    },
    {
      service: 'dynamodb',
      error: new ConditionalCheckFailedException(meta),
      name: 'DynamoDb.ConditionalCheckFailedException',
    },
    {
      service: 'elasticloadbalancingv2',
      error: new TargetGroupNotFoundException(meta),
      name: 'ElasticLoadBalancingV2.TargetGroupNotFoundException',
    },
    {
      service: 'ec2',
      error: new EC2ServiceException({ name: 'RequestLimitExceeded', $fault: 'client', $metadata: {} }),
      name: 'Ec2.Ec2Exception',
    },
    {
      service: 'dynamodb',
      error: new DynamoDBServiceException({ name: 'SomethingUnmodeled', $fault: 'server', $metadata: {} }),
      name: 'DynamoDb.DynamoDbException',
    },
    { service: 'ec2', error: new Error('socket hang up'), name: 'Ec2.Ec2Exception' },
  ])('$service $error.name → $name', ({ service, error, name }) => {
    expect(stepFunctionsErrorName(service, error)).toBe(name);
  });
});
