/**
 * The synthesized stack passes cdk-nag (AwsSolutions and Serverless packs) with no
 * unacknowledged finding, every acknowledgement is specific, explained and still needed,
 * and cfn-lint reports no error on the template.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cfnLint } from './helpers/cfn-lint';
import { type Synthesized, scratchDir, synthesize } from './helpers/synth';

interface Finding {
  rule: string;
  path: string;
  description: string;
}

function findings(pack: NagPack, scope: IConstruct): Finding[] {
  return pack.validateScope(scope).violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      path: resource.constructPath ?? '?',
      description: violation.description,
    })),
  );
}

/** The same pack, blind to acknowledgements: what it would report without any. */
function rawFindings(pack: NagPack, scope: IConstruct): Finding[] {
  Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
  return findings(pack, scope);
}

interface Acknowledgement {
  path: string;
  rule: string;
  reason: string;
}

function acknowledgements(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          rule: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

const variants: Array<[string, () => Promise<Synthesized>]> = [
  ['with defaults', () => synthesize()],
  [
    'with every option',
    () =>
      synthesize({
        fixture: 'pinned.yaml',
        props: {
          createConfigRecorder: true,
          subscriptions: [
            { protocol: 'email', endpoint: 'oncall@example.com', teams: ['web'] },
            { protocol: 'sqs', endpoint: 'arn:aws:sqs:eu-central-1:123456789012:inbox' },
          ],
          instanceRoleArns: ['arn:aws:iam::123456789012:role/instance'],
          ebsKmsKeyArns: ['arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
          planRole: { githubRepository: 'acme/infrastructure' },
          chatChannels: [
            {
              platform: 'slack',
              name: 'web',
              workspaceId: 'T0123ABCD',
              channelId: 'C0123ABCD',
              teams: ['web'],
            },
            {
              platform: 'microsoft-teams',
              name: 'operators',
              tenantId: '11111111-2222-3333-4444-555555555555',
              teamId: '66666666-7777-8888-9999-000000000000',
              channelId: '19:abc@thread.tacv2',
            },
          ],
        },
      }),
  ],
  [
    'with rollouts (declared alarms, a promotion) and the plan role',
    () =>
      synthesize({
        fixture: 'rollout.yaml',
        props: { planRole: { githubRepository: 'acme/infrastructure' } },
      }),
  ],
];

describe.each(variants)('the stack %s', (_name, build) => {
  let s: Synthesized;
  beforeAll(async () => {
    s = await build();
  });

  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ])('has no unacknowledged %s finding', (_pack, pack) => {
    expect(findings(pack(), s.app)).toEqual([]);
  });

  it('explains every acknowledgement, per finding for wildcards and managed policies', () => {
    const acks = acknowledgements(s.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path} ${ack.rule}`).toBeGreaterThanOrEqual(60);
      if (/^AwsSolutions-IAM[45]/.test(ack.rule)) {
        expect(ack.rule, `${ack.path}: name the finding it applies to`).toMatch(
          /^AwsSolutions-IAM[45]\[(Resource|Action|Policy)::.+\]$/,
        );
      }
    }
  });

  it('acknowledges only findings that exist (no stale acknowledgement)', () => {
    const raw = [
      ...rawFindings(new AwsSolutionsChecks(), s.app),
      ...rawFindings(new ServerlessChecks(), s.app),
    ];
    const stale = acknowledgements(s.app).filter(
      (ack) => !raw.some((finding) => finding.rule === ack.rule && finding.path.startsWith(ack.path)),
    );
    expect(stale).toEqual([]);
  });

  it('has no cfn-lint error', () => {
    const dir = scratchDir('cfn-lint');
    const file = path.join(dir, 'template.json');
    writeFileSync(file, JSON.stringify(s.json, null, 1));
    const matches = cfnLint(file);
    const errors = matches.filter((m) => m.Level === 'Error').map((m) => `${m.Rule.Id} ${m.Message}`);
    expect(errors).toEqual([]);
  });
});
