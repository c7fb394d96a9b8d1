/** Report records as reconcile builds them, for specs of the report's text and the progress lines. */
import type { ReconcileReport, RemediationRecord } from '../../functions/local/report';

export function record(overrides: Partial<RemediationRecord>): RemediationRecord {
  return {
    instanceId: 'i-1',
    fleet: 'web',
    team: 'storefront',
    execution: 'i-1-v1-abc',
    executionArn:
      'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance/local-0c4d8a52-96d2-4f7e-9b1a-1f0a6f0c2d11:i-1-v1-abc',
    round: 1,
    outcome: 'succeeded',
    reason: 'replaced',
    detail: 'Replaced i-1 with i-2.',
    replacementId: 'i-2',
    error: null,
    cause: null,
    reasons: [
      {
        kind: 'tag-value',
        field: 'tags.Owner',
        expected: 'team-web',
        actual: 'eve',
        source: 'desired-state',
      },
    ],
    trigger: 'CreateTags',
    principal: 'arn:aws:iam::123456789012:user/eve',
    launchTemplate: { id: 'lt-1', name: 'web-lt', version: 2 },
    transitions: 20,
    apiCalls: 35,
    durationMs: 1800,
    ...overrides,
  };
}

export function report(overrides: Partial<ReconcileReport>): ReconcileReport {
  return {
    schemaVersion: 1,
    startedAt: '2025-06-16T10:00:00.000Z',
    finishedAt: '2025-06-16T10:00:05.000Z',
    durationMs: 5000,
    desiredState: { file: 'phoenix.yaml', revision: 'r1', commit: 'c1' },
    target: {
      region: 'us-east-1',
      endpoint: null,
      table: 'phoenix-prod-State',
      topicArn: null,
      waits: 'real',
    },
    converged: true,
    stoppedBecause: 'nothing-new',
    rounds: [],
    summary: {
      fleets: 1,
      instancesJudged: 3,
      driftFound: 0,
      replaced: 0,
      skipped: 0,
      blocked: 0,
      rolledBack: 0,
      failed: 0,
      manualActionRequired: 0,
      held: 0,
      leftDrifted: 0,
      notifications: 0,
    },
    remediations: [],
    held: [],
    leftDrifted: [],
    notifications: [],
    errors: [],
    ...overrides,
  };
}
