/**
 * The read-only role a pull request's `phoenix plan` runs under
 * (examples/ci/github-phoenix-plan.yml): assumed only through GitHub's OIDC provider by
 * workflows of one repository, and allowed only what `phoenix plan --table` reads —
 * DescribeInstances, DescribeLaunchTemplateVersions, DescribeAutoScalingGroups, GetItem on
 * the state table (the pause switch, quarantines, rollouts), and, when the desired state
 * declares them, DescribeAlarms on the declared alarms and Query on the state table (a
 * followed fleet's rollouts, `after:`). Nothing that changes anything.
 */

import { Duration } from 'aws-cdk-lib';
import { OidcProviderNative, Role, WebIdentityPrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { CompiledFleet } from '../../functions/domain/model';
import { PlanRoleError } from '../errors';
import { grantScoped, type ScopeTargets } from './iam-scoping';

/**
 * What `phoenix plan --table` calls for any desired state (functions/cli/commands/plan.ts
 * through the inventory, the state store's pause and quarantine reads and the rollout's
 * GetItem). {@link planActions} adds what declared rollouts make it read. A test runs the
 * plan against the emulated account and compares the calls it makes with these.
 */
export const PLAN_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplateVersions',
  'autoscaling:DescribeAutoScalingGroups',
  'dynamodb:GetItem',
] as const;

/**
 * What `phoenix plan --table` calls for these fleets: {@link PLAN_ACTIONS}, the declared
 * alarms' states (`cloudwatch:DescribeAlarms`) when a fleet declares `rollout.alarms`, and the
 * followed fleet's rollouts (`dynamodb:Query`) when a fleet declares `rollout.after`.
 */
export function planActions(fleets: readonly CompiledFleet[]): string[] {
  const actions: string[] = [...PLAN_ACTIONS];
  if (fleets.some((f) => f.rollout.alarms.length > 0)) actions.push('cloudwatch:DescribeAlarms');
  if (fleets.some((f) => f.rollout.after !== undefined)) actions.push('dynamodb:Query');
  return actions;
}

/** The issuer of GitHub Actions' OIDC tokens (without `https://`, as IAM condition keys name it). */
export const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';
/** The audience configure-aws-credentials asks GitHub for. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** Who may assume the read-only plan role: workflows of one GitHub repository, through OIDC. */
export interface PlanRoleOptions {
  /** The repository whose workflows run `phoenix plan`, as `owner/name`. */
  readonly githubRepository: string;
  /**
   * What follows `repo:owner/name:` in the token's `sub` claim: `pull_request` for workflows
   * run by pull requests, `ref:refs/heads/main`, `environment:plan`… `*` and `?` match as in
   * IAM's StringLike.
   * @default ['pull_request']
   */
  readonly subjects?: readonly string[];
  /**
   * The account's IAM OIDC provider for `token.actions.githubusercontent.com`. An account has
   * at most one per URL: pass its ARN when one exists.
   * @default - a provider is created with the stack
   */
  readonly oidcProviderArn?: string;
  /**
   * The role's name, for a workflow that names it rather than reading the stack output.
   * @default - a name CloudFormation generates
   */
  readonly roleName?: string;
  /**
   * How long the credentials a workflow gets last.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;
}

export interface PlanRoleProps extends PlanRoleOptions {
  readonly fleets: readonly CompiledFleet[];
  readonly targets: ScopeTargets;
  /** The state table's customer-managed key, if it has one (GetItem then needs kms:Decrypt). */
  readonly tableKey?: IKey;
}

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const SUBJECT = /^[A-Za-z0-9_.\-:/*?@]+$/;

/** The `sub` values the role trusts, `repo:owner/name:<subject>`. @throws PlanRoleError */
export function trustedSubjects(options: PlanRoleOptions): string[] {
  if (!REPOSITORY.test(options.githubRepository)) {
    throw new PlanRoleError(
      `plan role: githubRepository must be owner/name, not ${JSON.stringify(options.githubRepository)}`,
    );
  }
  const subjects = options.subjects ?? ['pull_request'];
  if (subjects.length === 0) throw new PlanRoleError('plan role: subjects must name at least one subject');
  for (const subject of subjects) {
    if (!SUBJECT.test(subject)) {
      throw new PlanRoleError(`plan role: subject ${JSON.stringify(subject)} is not a GitHub OIDC subject`);
    }
  }
  return subjects.map((subject) => `repo:${options.githubRepository}:${subject}`);
}

/** The read-only role, its trust in GitHub's OIDC provider, and the provider when created here. */
export class PlanRole extends Construct {
  readonly role: Role;
  /** The provider created with the stack; undefined when an existing one was named. */
  readonly oidcProvider?: OidcProviderNative;

  constructor(scope: Construct, id: string, props: PlanRoleProps) {
    super(scope, id);
    const subjects = trustedSubjects(props);
    const maxSession = props.maxSessionDuration ?? Duration.hours(1);
    if (maxSession.toSeconds() < 3600 || maxSession.toSeconds() > 12 * 3600) {
      throw new PlanRoleError('plan role: maxSessionDuration must be between 1 and 12 hours');
    }

    let providerArn = props.oidcProviderArn;
    if (providerArn === undefined) {
      this.oidcProvider = new OidcProviderNative(this, 'GitHubOidc', {
        url: `https://${GITHUB_OIDC_ISSUER}`,
        clientIds: [GITHUB_OIDC_AUDIENCE],
      });
      providerArn = this.oidcProvider.oidcProviderArn;
    }

    const wildcard = subjects.some((subject) => /[*?]/.test(subject));
    this.role = new Role(this, 'Role', {
      roleName: props.roleName,
      description: `Phoenix plan (read-only), assumed by GitHub Actions of ${props.githubRepository}`,
      maxSessionDuration: maxSession,
      assumedBy: new WebIdentityPrincipal(providerArn, {
        StringEquals: {
          [`${GITHUB_OIDC_ISSUER}:aud`]: GITHUB_OIDC_AUDIENCE,
          ...(wildcard ? {} : { [`${GITHUB_OIDC_ISSUER}:sub`]: subjects }),
        },
        ...(wildcard ? { StringLike: { [`${GITHUB_OIDC_ISSUER}:sub`]: subjects } } : {}),
      }),
    });
    grantScoped(this.role, planActions(props.fleets), props.fleets, props.targets);
    props.tableKey?.grantDecrypt(this.role);
  }
}
