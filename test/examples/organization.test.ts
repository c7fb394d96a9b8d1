/**
 * examples/organization, synthesized as `cdk synth` would from that directory: a StackSet
 * per desired-state file (service-managed, the default one auto-deploying to the OUs' new
 * accounts), each carrying a Phoenix compiled from its own file with its assets in every
 * region's bucket, and an organization-wide Config aggregator. cdk-nag and cfn-lint pass.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AssetBucketStack,
  buildOrganization,
  OrganizationConfigError,
  type OrganizationStack,
} from '../../examples/organization/organization';
import { cfnLint } from '../infra/helpers/cfn-lint';
import { resolve } from '../infra/helpers/iam';
import { scratchDir, type TemplateJson } from '../infra/helpers/synth';

const EXAMPLE = path.join(import.meta.dirname, '..', '..', 'examples', 'organization');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

function findings(pack: NagPack, scope: IConstruct): string[] {
  return pack
    .validateScope(scope)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? '?'}`));
}

let app: App;
let org: OrganizationStack;
let assets: AssetBucketStack[];
let outdir: string;
let template: TemplateJson;
const read = (file: string) => JSON.parse(readFileSync(path.join(outdir, file), 'utf8')) as TemplateJson;

beforeAll(async () => {
  outdir = scratchDir('organization');
  // Bundled for real: cdk-stacksets copies the staged bundles, which skipped bundling does not stage.
  app = new App({ outdir });
  ({ organization: org, assets } = await buildOrganization(app, EXAMPLE, { commit: COMMIT }));
  app.synth();
  template = read(`${org.artifactId}.template.json`);
}, 300_000);

function stackSet(key: string) {
  const found = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::CloudFormation::StackSet' && r.Properties?.StackSetName === `Phoenix-${key}`,
  );
  if (found === undefined) throw new Error(`no stack set Phoenix-${key}`);
  return found;
}

describe('the organization example', () => {
  it('has a stack set per desired-state file, service-managed from the delegated administrator', () => {
    const sets = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudFormation::StackSet');
    expect(sets.map((r) => r.Properties?.StackSetName).sort()).toEqual([
      'Phoenix-111111111111',
      'Phoenix-222222222222',
      'Phoenix-default',
    ]);
    for (const set of sets) {
      expect(set.Properties).toMatchObject({
        PermissionModel: 'SERVICE_MANAGED',
        CallAs: 'DELEGATED_ADMIN',
        Capabilities: ['CAPABILITY_IAM'],
      });
    }
  });

  it('deploys the default desired state to every account of the OUs but those with their own file, new accounts included', () => {
    expect(stackSet('default').Properties).toMatchObject({
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: true },
      StackInstancesGroup: [
        {
          Regions: ['eu-central-1', 'eu-west-1'],
          DeploymentTargets: {
            OrganizationalUnitIds: ['ou-abcd-11111111'],
            AccountFilterType: 'DIFFERENCE',
            Accounts: ['111111111111', '222222222222'],
          },
        },
      ],
    });
  });

  it("deploys an account's own desired state to that account only", () => {
    for (const account of ['111111111111', '222222222222']) {
      expect(stackSet(account).Properties).toMatchObject({
        AutoDeployment: { Enabled: false },
        StackInstancesGroup: [
          {
            Regions: ['eu-central-1', 'eu-west-1'],
            DeploymentTargets: {
              OrganizationalUnitIds: ['ou-abcd-11111111'],
              AccountFilterType: 'INTERSECTION',
              Accounts: [account],
            },
          },
        ],
      });
    }
  });

  it('carries, in each stack set, a Phoenix compiled from its own file', () => {
    for (const [key, remediator] of org.remediators) {
      const file = path.join(EXAMPLE, 'accounts', `${key}.yaml`);
      expect(path.resolve(remediator.desiredState.provenance.path)).toBe(file);
      const stackSetStack = remediator.node.scope as unknown as { templateFile: string };
      const inner = read(stackSetStack.templateFile);
      const sweep = Object.values(inner.Resources).find((r) => r.Type === 'Custom::PhoenixBaselineSweep');
      expect(sweep?.Properties?.DesiredStateSha256).toBe(remediator.desiredState.provenance.sha256);
      expect(stackSet(key).Properties?.Description).toContain(remediator.desiredState.revision);
    }
    const shas = [...org.remediators.values()].map((r) => r.desiredState.provenance.sha256);
    expect(new Set(shas).size).toBe(3);
  });

  it("reads every Phoenix stack's code and state machine definition from its own region's asset bucket, copied there before the stack set", () => {
    const remediator = org.remediators.get('111111111111');
    const stackSetStack = remediator?.node.scope as unknown as { templateFile: string };
    const inner = read(stackSetStack.templateFile);
    const regional = 'phoenix-stacksets-999999999999-<AWS::Region>';
    const keys: string[] = [];
    for (const resource of Object.values(inner.Resources)) {
      if (resource.Type === 'AWS::Lambda::Function') {
        const code = resource.Properties?.Code as { S3Bucket: unknown; S3Key: string };
        expect(resolve(code.S3Bucket).replace('eu-central-1', '<AWS::Region>')).toBe(regional);
        keys.push(code.S3Key);
      }
      if (resource.Type === 'AWS::StepFunctions::StateMachine') {
        const location = resource.Properties?.DefinitionS3Location as { Bucket: unknown; Key: string };
        expect(resolve(location.Bucket).replace('eu-central-1', '<AWS::Region>')).toBe(regional);
        expect(location.Key).toMatch(/^[0-9a-f]{64}\.json$/);
        keys.push(location.Key);
      }
    }
    // Evaluator, remediation steps, the baseline sweep's custom resource, the state machine definition.
    expect(keys.length).toBe(4);
    const dependsOn = [stackSet('111111111111').DependsOn ?? []].flat();
    for (const region of ['eu-central-1', 'eu-west-1']) {
      const copies = Object.entries(template.Resources).filter(
        ([id, r]) =>
          r.Type === 'Custom::CDKBucketDeployment' &&
          r.Properties?.DestinationBucketName === `phoenix-stacksets-999999999999-${region}` &&
          dependsOn.includes(id),
      );
      const copied = copies.flatMap(([, r]) => (r.Properties?.SourceObjectKeys as string[]) ?? []);
      // Copied unchanged, so each object arrives under the very key the template names.
      for (const key of keys) expect(copied).toContain(key);
      for (const [, copy] of copies) expect(copy.Properties?.Extract).toBe(false);
    }
  });

  it('has an asset bucket per region that only the organization may read from', () => {
    expect(assets.map((s) => s.region)).toEqual(['eu-central-1', 'eu-west-1']);
    for (const stack of assets) {
      const json = read(`${stack.artifactId}.template.json`);
      const bucket = Object.values(json.Resources).find((r) => r.Type === 'AWS::S3::Bucket');
      expect(bucket?.Properties).toMatchObject({
        BucketName: `phoenix-stacksets-999999999999-${stack.region}`,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      const policy = Object.values(json.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy');
      const document = policy?.Properties?.PolicyDocument as
        | { Statement: Array<Record<string, unknown>> }
        | undefined;
      const statements = document?.Statement ?? [];
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abcd123456' } },
        }),
      );
      expect(org.dependencies.map((d) => d.artifactId)).toContain(stack.artifactId);
    }
  });

  it("aggregates every account's and region's Config compliance in the administrator account", () => {
    const aggregator = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::Config::ConfigurationAggregator',
    );
    expect(aggregator?.Properties).toMatchObject({
      ConfigurationAggregatorName: 'phoenix-organization',
      OrganizationAggregationSource: { AllAwsRegions: true },
    });
    const role = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties).includes('AWSConfigRoleForOrganizations'),
    );
    expect(JSON.stringify(role?.Properties?.AssumeRolePolicyDocument)).toContain('config.amazonaws.com');
  });

  it.each([
    ['AwsSolutions', () => new AwsSolutionsChecks()],
    ['Serverless', () => new ServerlessChecks()],
  ])('has no unacknowledged %s finding', (_pack, pack) => {
    expect(findings(pack(), app)).toEqual([]);
  });

  it('has no cfn-lint error in any template', () => {
    const files = [
      `${org.artifactId}.template.json`,
      ...assets.map((s) => `${s.artifactId}.template.json`),
      ...[...org.remediators.values()].map(
        (r) => (r.node.scope as unknown as { templateFile: string }).templateFile,
      ),
    ];
    const errors = files.flatMap((file) =>
      cfnLint(path.join(outdir, file))
        .filter((m) => m.Level === 'Error')
        .map((m) => `${file}: ${m.Rule.Id} ${m.Message}`),
    );
    expect(errors).toEqual([]);
  }, 300_000);
});

describe('the organization configuration', () => {
  async function attempt(change: (dir: string) => void): Promise<unknown> {
    const dir = scratchDir('org-config');
    cpSync(EXAMPLE, dir, { recursive: true });
    change(dir);
    return buildOrganization(
      new App({ outdir: scratchDir('org-out'), context: { 'aws:cdk:bundling-stacks': [] } }),
      dir,
      {
        commit: COMMIT,
      },
    );
  }

  it.each([
    [
      'a desired-state file not named after an account',
      (dir: string) => writeFileSync(path.join(dir, 'accounts', 'prod.yaml'), 'version: 1\nfleets: {}\n'),
      /prod\.yaml: a desired-state file is named default\.yaml or <12-digit account ID>\.yaml/,
    ],
    [
      'no default.yaml',
      (dir: string) => rmSync(path.join(dir, 'accounts', 'default.yaml')),
      /default\.yaml is missing/,
    ],
    [
      'an OU that is not one',
      (dir: string) => {
        const file = path.join(dir, 'organization.yaml');
        writeFileSync(file, readFileSync(file, 'utf8').replace('ou-abcd-11111111', 'engineering'));
      },
      /organization\.yaml: organizationalUnits\.0: an OU ID looks like ou-abcd-11111111/,
    ],
    [
      'a file for the administrator account',
      (dir: string) =>
        cpSync(path.join(dir, 'accounts', 'default.yaml'), path.join(dir, 'accounts', '999999999999.yaml')),
      /999999999999 is the administrator account/,
    ],
  ])('refuses %s with one clear line', async (_what, change, message) => {
    const result = attempt(change);
    await expect(result).rejects.toThrow(OrganizationConfigError);
    await expect(attempt(change)).rejects.toThrow(message);
  });

  it("refuses an account's invalid desired state with its file:line:col", async () => {
    await expect(
      attempt((dir) =>
        writeFileSync(path.join(dir, 'accounts', '111111111111.yaml'), 'version: 1\ncolour: blue\n'),
      ),
    ).rejects.toThrow(/111111111111\.yaml:2:1 /);
  });
});
