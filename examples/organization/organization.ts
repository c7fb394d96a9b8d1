/**
 * Phoenix across an AWS organization: the stacks of examples/organization/app.ts.
 *
 * - One StackSet per desired-state file (service-managed permissions, deployed from the
 *   delegated administrator account). A desired state is compiled into Phoenix's function
 *   bundles and its IAM policies at synth, so each file is its own template; a StackSet
 *   deploys one template everywhere it targets.
 *   - `accounts/default.yaml`: every account of the OUs except those with a file of their
 *     own (`DIFFERENCE`), with automatic deployment, so an account that joins an OU gets
 *     Phoenix (observe-only by default) without anyone deploying anything.
 *   - `accounts/<account-id>.yaml`: that account only (`INTERSECTION` with the OUs).
 * - One asset bucket per region (`<prefix>-<region>`), readable by the organization: a
 *   StackSet's stacks fetch Phoenix's Lambda code and state machine definition from the
 *   bucket of their own region (cdk-stacksets copies the assets there at deploy).
 * - An organization-wide AWS Config aggregator in the delegated administrator account: one
 *   view of every account's compliance with its desired state (Phoenix records it as the
 *   results of its Config rule).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type App,
  type FileAssetLocation,
  type FileAssetSource,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Stage,
} from 'aws-cdk-lib';
import type { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import { CfnConfigurationAggregator } from 'aws-cdk-lib/aws-config';
import {
  ManagedPolicy,
  OrganizationPrincipal,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import {
  Capability,
  DeploymentType,
  StackSet,
  StackSetStack,
  StackSetTarget,
  StackSetTemplate,
} from 'cdk-stacksets';
import type { Construct } from 'constructs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { loadDesiredStateFile } from '../../functions/io/desired-state-file';
import { DriftRemediator } from '../../infra/drift-remediator';
import { acknowledge } from '../../infra/parts/nag';

/** Thrown when organization.yaml or the accounts directory is wrong; the message names the file and key. */
export class OrganizationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrganizationConfigError';
  }
}

const ACCOUNT = z.string().regex(/^\d{12}$/, 'an account is 12 digits');
const REGION = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region looks like eu-central-1');

const OrganizationSchema = z.strictObject({
  administratorAccount: ACCOUNT,
  homeRegion: REGION,
  organizationId: z.string().regex(/^o-[a-z0-9]{10,32}$/, 'an organization ID looks like o-abcd123456'),
  organizationalUnits: z
    .array(
      z
        .string()
        .regex(
          /^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/,
          'an OU ID looks like ou-abcd-11111111',
        ),
    )
    .min(1),
  regions: z.array(REGION).min(1),
  assetBucketPrefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,40}$/, 'lower-case letters, digits and dashes, at most 41 characters'),
  remediator: z
    .strictObject({
      removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
      logRetentionDays: z.number().int().positive().optional(),
    })
    .default({ removalPolicy: 'retain' }),
});

export type OrganizationConfig = z.infer<typeof OrganizationSchema>;

/** One desired-state file and the accounts it applies to. */
export interface AccountDesiredState {
  /** `default`, or the 12-digit account ID. */
  readonly key: string;
  readonly file: string;
  readonly desiredState: CompiledDesiredState;
}

export interface Organization {
  readonly config: OrganizationConfig;
  readonly defaultState: AccountDesiredState;
  readonly accountStates: readonly AccountDesiredState[];
}

/**
 * Reads `organization.yaml` and every desired-state file of `accounts/` in `dir`: a
 * `default.yaml` (required) and `<account-id>.yaml` files; any other file is an error, so a
 * typo in a file name cannot leave an account on the default silently.
 */
export async function loadOrganization(
  dir: string,
  options: { commit?: string } = {},
): Promise<Organization> {
  const configFile = path.join(dir, 'organization.yaml');
  const parsed = OrganizationSchema.safeParse(parse(readFileSync(configFile, 'utf8')));
  if (!parsed.success) {
    throw new OrganizationConfigError(
      parsed.error.issues
        .map((i) => `${configFile}: ${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('\n'),
    );
  }
  const accountsDir = path.join(dir, 'accounts');
  const names = readdirSync(accountsDir).sort();
  const stray = names.filter((n) => !/^(default|\d{12})\.ya?ml$/.test(n));
  if (stray.length > 0) {
    throw new OrganizationConfigError(
      `${accountsDir}: ${stray.join(', ')}: a desired-state file is named default.yaml or <12-digit account ID>.yaml`,
    );
  }
  if (!names.includes('default.yaml')) {
    throw new OrganizationConfigError(
      `${accountsDir}: default.yaml is missing (the desired state of every other account)`,
    );
  }
  const load = async (name: string): Promise<AccountDesiredState> => {
    const file = path.join(accountsDir, name);
    const commit = options.commit === undefined ? {} : { commit: options.commit };
    return {
      key: name.replace(/\.ya?ml$/, ''),
      file,
      desiredState: await loadDesiredStateFile(file, commit),
    };
  };
  const all = await Promise.all(names.map(load));
  const defaultState = all.find((s) => s.key === 'default');
  if (defaultState === undefined)
    throw new OrganizationConfigError(`${accountsDir}: default.yaml is missing`);
  const accountStates = all.filter((s) => s.key !== 'default');
  if (accountStates.some((s) => s.key === parsed.data.administratorAccount)) {
    throw new OrganizationConfigError(
      `${accountsDir}: ${parsed.data.administratorAccount} is the administrator account; StackSets with service-managed permissions do not deploy to it`,
    );
  }
  return { config: parsed.data, defaultState, accountStates };
}

/** The name of the asset bucket of a region. */
export function assetBucketName(prefix: string, region: string): string {
  return `${prefix}-${region}`;
}

/** The bucket a region's Phoenix stacks read their code from: organization-readable, nothing else. */
export class AssetBucketStack extends Stack {
  readonly bucket: Bucket;

  constructor(
    scope: Construct,
    id: string,
    props: StackProps & { bucketName: string; organizationId: string },
  ) {
    super(scope, id, props);
    this.bucket = new Bucket(this, 'Assets', {
      bucketName: props.bucketName,
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OrganizationReadsPhoenixAssets',
        principals: [new OrganizationPrincipal(props.organizationId)],
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'The bucket holds only deployment artefacts (Lambda bundles, the state machine definition) copied by ' +
        'CloudFormation at each deploy; who reads them is recorded by CloudTrail, not worth a second log bucket.',
    );
  }
}

/**
 * A StackSet template whose file assets reach every region's asset bucket under the key the
 * template names. cdk-stacksets' own copier re-zips a staged asset and copies it under the
 * new zip's hash: right for bundles whose hash is their content (Phoenix's functions), wrong
 * for a source-hashed asset (the baseline sweep's custom resource code: the template would
 * point at a key that never arrives) and impossible for a single file (the state machine
 * definition). So each asset is published as a CDK asset of the parent stack, as it was
 * staged, and copied unchanged (`extract: false`) to `<prefix>-<region>/<its key>`.
 */
export class PhoenixStackSetStack extends StackSetStack {
  /** The copies to the asset buckets, which the stack set must wait for. */
  readonly assetCopies: BucketDeployment[] = [];

  constructor(scope: Stack, id: string, props: { assetBuckets: IBucket[]; assetBucketPrefix: string }) {
    super(scope, id);
    const copies = props.assetBuckets.map(
      (bucket, index) =>
        new BucketDeployment(scope, `${id}-AssetCopy-${index}`, {
          sources: [],
          destinationBucket: bucket,
          extract: false,
          prune: false,
        }),
    );
    this.assetCopies.push(...copies);
    this.synthesizer.addFileAsset = (source: FileAssetSource): FileAssetLocation => {
      if (source.fileName === undefined) throw new Error(`${this.node.path}: an asset without a file`);
      const outdir = Stage.of(this)?.outdir ?? 'cdk.out';
      const staged = path.isAbsolute(source.fileName) ? source.fileName : path.join(outdir, source.fileName);
      // Published from the parent stack exactly as staged: a file stays a file, a bundle becomes its zip.
      const published = new Asset(scope, `${id}-Asset-${source.sourceHash.slice(0, 16)}`, { path: staged });
      const objectKey = path.posix.basename(published.s3ObjectKey);
      for (const copy of copies) copy.addSource(Source.bucket(published.bucket, published.s3ObjectKey));
      const bucketName = Fn.join('-', [props.assetBucketPrefix, this.region]);
      return {
        bucketName,
        objectKey,
        httpUrl: `https://s3.${bucketName}/${objectKey}`,
        s3ObjectUrl: `s3://${bucketName}/${objectKey}`,
      };
    };
  }
}

/** The administrator account's stack: a StackSet per desired-state file, and the Config aggregator. */
export class OrganizationStack extends Stack {
  readonly stackSets: ReadonlyMap<string, StackSet>;
  readonly remediators: ReadonlyMap<string, DriftRemediator>;
  readonly aggregator: CfnConfigurationAggregator;

  constructor(scope: Construct, id: string, props: StackProps & { organization: Organization }) {
    super(scope, id, props);
    const { config, defaultState, accountStates } = props.organization;
    const buckets: IBucket[] = config.regions.map((region) =>
      Bucket.fromBucketName(this, `Assets-${region}`, assetBucketName(config.assetBucketPrefix, region)),
    );

    const stackSets = new Map<string, StackSet>();
    const remediators = new Map<string, DriftRemediator>();
    const ownAccounts = accountStates.map((s) => s.key);
    for (const state of [defaultState, ...accountStates]) {
      const isDefault = state.key === 'default';
      const template = new PhoenixStackSetStack(this, `Phoenix-${state.key}`, {
        assetBuckets: buckets,
        assetBucketPrefix: config.assetBucketPrefix,
      });
      remediators.set(
        state.key,
        new DriftRemediator(template, 'Phoenix', {
          desiredState: state.desiredState,
          removalPolicy:
            config.remediator.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
          ...(config.remediator.logRetentionDays === undefined
            ? {}
            : { logRetention: config.remediator.logRetentionDays as RetentionDays }),
        }),
      );

      const stackSet = new StackSet(this, `StackSet-${state.key}`, {
        stackSetName: `Phoenix-${state.key}`,
        description: `Phoenix drift remediator, desired state ${state.desiredState.revision} (${path.basename(state.file)})`,
        template: StackSetTemplate.fromStackSetStack(template),
        capabilities: [Capability.IAM],
        // The default set follows the OUs (new accounts included); an account's own set stays on that account.
        deploymentType: DeploymentType.serviceManaged(
          isDefault
            ? { delegatedAdmin: true, autoDeployEnabled: true, autoDeployRetainStacks: true }
            : { delegatedAdmin: true, autoDeployEnabled: false },
        ),
        target: StackSetTarget.fromOrganizationalUnits({
          regions: config.regions,
          organizationalUnits: config.organizationalUnits,
          ...(isDefault
            ? ownAccounts.length > 0
              ? { excludeAccounts: ownAccounts }
              : {}
            : { additionalAccounts: [state.key] }),
        }),
        operationPreferences: { failureTolerancePercentage: 0, maxConcurrentPercentage: 25 },
      });
      for (const copy of template.assetCopies) stackSet.node.addDependency(copy);
      if (!isDefault) {
        // cdk-stacksets offers UNION for "OUs plus accounts", which CloudFormation refuses on create;
        // INTERSECTION targets exactly this account, within the OUs.
        (stackSet.node.defaultChild as CfnStackSet).addPropertyOverride(
          'StackInstancesGroup.0.DeploymentTargets.AccountFilterType',
          'INTERSECTION',
        );
      }
      stackSets.set(state.key, stackSet);
    }
    this.stackSets = stackSets;
    this.remediators = remediators;

    const aggregatorRole = new Role(this, 'AggregatorRole', {
      assumedBy: new ServicePrincipal('config.amazonaws.com'),
      description: 'AWS Config: reads every account of the organization for the Phoenix aggregator',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSConfigRoleForOrganizations')],
    });
    acknowledge(
      aggregatorRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSConfigRoleForOrganizations]',
      'AWSConfigRoleForOrganizations is the policy AWS documents for an organization aggregator role ' +
        '(organizations:ListAccounts, DescribeOrganization, ListAWSServiceAccessForOrganization); AWS maintains it as the API grows.',
    );
    this.aggregator = new CfnConfigurationAggregator(this, 'Aggregator', {
      configurationAggregatorName: 'phoenix-organization',
      organizationAggregationSource: { roleArn: aggregatorRole.roleArn, allAwsRegions: true },
    });
    this.acknowledgeAssetCopier(config);
  }

  /**
   * The asset copier is CDK's own BucketDeployment singleton (a Lambda behind a custom
   * resource), which runs only during a deploy; its findings are CDK's, acknowledged here
   * one by one.
   */
  private acknowledgeAssetCopier(config: OrganizationConfig): void {
    const copier = this.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (copier === undefined) return;
    const why =
      "CDK's BucketDeployment copier (aws-s3-deployment) copies Phoenix's assets to the organization's asset " +
      'buckets during a deploy and at no other time; its runtime, role and policy are built by CDK.';
    acknowledge(copier, 'AwsSolutions-L1', `${why} CDK chooses and upgrades its Python runtime.`);
    acknowledge(
      copier,
      'Serverless-LambdaLatestVersion',
      `${why} CDK chooses and upgrades its Python runtime.`,
    );
    acknowledge(
      copier,
      'Serverless-LambdaDLQ',
      `${why} CloudFormation invokes it synchronously and fails the deploy on error.`,
    );
    acknowledge(copier, 'Serverless-LambdaTracing', `${why} A deploy-time copy has nothing to trace.`);
    acknowledge(
      copier,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      `${why} The managed policy only lets it write its own logs.`,
    );
    const buckets = [
      `cdk-hnb659fds-assets-${config.administratorAccount}-${config.homeRegion}`,
      ...config.regions.map((r) => assetBucketName(config.assetBucketPrefix, r)),
    ];
    const findings = [
      'Action::s3:GetObject*',
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      ...buckets.map((b) => `Resource::arn:<AWS::Partition>:s3:::${b}/*`),
    ];
    for (const finding of findings) {
      acknowledge(
        copier,
        `AwsSolutions-IAM5[${finding}]`,
        `${why} It reads the CDK asset bucket and writes the asset buckets, object by object, with the actions CDK's grants name.`,
      );
    }
  }
}

/** Every stack of the example: an asset bucket per region, then the administrator's stack. */
export async function buildOrganization(
  app: App,
  dir: string,
  options: { commit?: string } = {},
): Promise<{ organization: OrganizationStack; assets: AssetBucketStack[] }> {
  const organization = await loadOrganization(dir, options);
  const { config } = organization;
  const assets = config.regions.map(
    (region) =>
      new AssetBucketStack(app, `PhoenixAssets-${region}`, {
        env: { account: config.administratorAccount, region },
        bucketName: assetBucketName(config.assetBucketPrefix, region),
        organizationId: config.organizationId,
        description: `Phoenix StackSet assets for ${region}`,
      }),
  );
  const stack = new OrganizationStack(app, 'PhoenixOrganization', {
    env: { account: config.administratorAccount, region: config.homeRegion },
    description: 'Phoenix across the organization: StackSets per desired state, and a Config aggregator',
    organization,
  });
  for (const bucketStack of assets) stack.addStackDependency(bucketStack);
  return { organization: stack, assets };
}
