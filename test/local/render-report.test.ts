import { describe, expect, it } from 'vitest';
import { renderReport } from '../../functions/local/render-report';
import { record, report } from './builders';

describe('renderReport', () => {
  it('says there was nothing to do when nothing drifted', () => {
    const text = renderReport(report({}));
    expect(text).toContain(
      'account: AWS (us-east-1), state table phoenix-prod-State, notifications not published (no topic), waits real',
    );
    expect(text).toMatch(/Nothing to do: 3 instances in 1 fleet, none drifted\.$/);
  });

  it('gives every outcome its section, with the reasons and causes a person acts on', () => {
    const text = renderReport(
      report({
        converged: false,
        remediations: [
          record({}),
          record({
            instanceId: 'i-3',
            outcome: 'skipped',
            reason: 'paused',
            detail: 'Not replacing i-3: remediation is paused.',
            replacementId: null,
          }),
          record({
            instanceId: 'i-4',
            outcome: 'blocked',
            reason: 'budget',
            detail: 'Could not start replacing i-4 within the retry bound.',
          }),
          record({
            instanceId: 'i-5',
            outcome: 'rolled-back',
            error: 'ReplacementUnhealthyError',
            cause:
              'ReplacementUnhealthyError: not healthy after 40 checks — rolled back: terminated replacement i-6',
          }),
          record({
            instanceId: 'i-7',
            outcome: 'manual-action-required',
            detail: 'i-7 is drifted but Phoenix cannot replace it: no launch template.',
          }),
        ],
        held: [
          {
            instanceId: 'i-8',
            fleet: 'web',
            round: 1,
            why: 'Not replaced: launch template web-lt version 2 is quarantined',
            reasons: [],
          },
        ],
        leftDrifted: [
          {
            instanceId: 'i-8',
            fleet: 'web',
            reasons: [
              {
                kind: 'image',
                field: 'imageId',
                expected: 'ami-2',
                actual: 'ami-1',
                source: 'launch-template',
              },
            ],
            why: 'quarantined',
          },
        ],
        summary: {
          ...report({}).summary,
          driftFound: 6,
          replaced: 1,
          skipped: 1,
          blocked: 1,
          rolledBack: 1,
          manualActionRequired: 1,
          held: 1,
          leftDrifted: 1,
        },
      }),
    );

    expect(text).toContain(
      'Replaced\n  i-1 → i-2  (web, web-lt v2, 1.8s, 20 states)\n      tags.Owner: expected team-web, found eve; changed by arn:aws:iam::123456789012:user/eve',
    );
    expect(text).toContain('Skipped\n  i-3 (web): paused: Not replacing i-3: remediation is paused.');
    expect(text).toContain('Blocked\n  i-4 (web): Could not start replacing i-4 within the retry bound.');
    expect(text).toContain(
      'Rolled back\n  i-5 (web): ReplacementUnhealthyError: not healthy after 40 checks — rolled back: terminated replacement i-6',
    );
    expect(text).toContain(
      'Manual action required\n  i-7 (web): i-7 is drifted but Phoenix cannot replace it: no launch template.',
    );
    expect(text).toContain(
      'Not replaced\n  i-8 (web): Not replaced: launch template web-lt version 2 is quarantined',
    );
    expect(text).toContain('Still drifted\n  i-8 (web): imageId: expected ami-2, found ami-1 — quarantined');
    expect(text).toMatch(
      /Drift found on 6 instances: 1 replaced, 1 skipped, 1 blocked, 1 rolled back, 1 need manual action, 1 not replaced\. NOT converged: 1 instance still drifted\.$/,
    );
  });

  it('says when it stopped at the round limit', () => {
    const text = renderReport(
      report({
        converged: false,
        stoppedBecause: 'round-limit',
        rounds: [1, 2, 3].map((round) => ({
          round,
          judged: 1,
          inSync: 0,
          drifted: 1,
          notApplicable: 0,
          started: 1,
          alreadyStarted: 0,
          held: 0,
        })),
        summary: { ...report({}).summary, driftFound: 1 },
      }),
    );
    expect(text).toMatch(/NOT converged: stopped after 2 rounds with work left\.$/);
  });
});
