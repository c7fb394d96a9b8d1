import { PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { describe, expect, it } from 'vitest';
import { ComplianceRecorder } from '../../functions/local/config-recorder';

describe('ComplianceRecorder (PutEvaluations, locally)', () => {
  it('keeps every evaluation with its result token and reports none failed', async () => {
    const recorder = new ComplianceRecorder();
    const out = await recorder.client.send(
      new PutEvaluationsCommand({
        ResultToken: 'token',
        Evaluations: [
          {
            ComplianceResourceType: 'AWS::EC2::Instance',
            ComplianceResourceId: 'i-1',
            ComplianceType: 'NON_COMPLIANT',
            Annotation: 'tags.Owner: expected a, found b',
            OrderingTimestamp: new Date('2025-06-16T10:00:00Z'),
          },
        ],
      }),
    );
    expect(out).toEqual({ FailedEvaluations: [] });
    expect(recorder.evaluations).toEqual([
      {
        resultToken: 'token',
        resourceId: 'i-1',
        compliance: 'NON_COMPLIANT',
        annotation: 'tags.Owner: expected a, found b',
        orderingTimestamp: '2025-06-16T10:00:00.000Z',
      },
    ]);
  });
});
