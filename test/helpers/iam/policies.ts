/**
 * Phoenix's role policies for one desired state, resolved for the emulated account: the
 * synthesized statements (from the run's policy server) with every CloudFormation reference
 * replaced by what it names in this account — the test's state table and topic, the local
 * runner's steps function and state machine — so iam-simulate can decide real requests.
 */
import { inject } from 'vitest';
import type { Principal } from '../../../functions/aws/call-gate';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import {
  LOCAL_STATE_MACHINE_NAME,
  localStepsFunctionArn,
} from '../../../functions/local/step-functions/arns';
import { ACCOUNT, cfnResolver, PARTITION } from './resolve';
import type { IamProps, SynthesizedPolicies } from './synthesized-policies';

export { ACCOUNT, PARTITION } from './resolve';

/** What the references resolve to in the account a test runs in. */
export interface AccountNames {
  region: string;
  tableName: string;
  topicArn: string;
}

export interface ResolvedRole {
  principal: Principal;
  /** The role's logical id in the template (its name in messages). */
  name: string;
  arn: string;
  /** An IAM policy document iam-simulate accepts. */
  policy: { Version: '2012-10-17'; Statement: Array<Record<string, unknown>> };
}

export interface ResolvedPolicies {
  roles: Record<Principal, ResolvedRole>;
  /** The key the Phoenix topic is encrypted with (the emulator's topic is not; IAM still asks). */
  topicKeyArn: string;
  /** Resource policies by the ARN they protect (the topic key's key policy, the topic's policy). */
  resourcePolicies: ReadonlyMap<string, unknown>;
}

const fetched = new Map<string, Promise<SynthesizedPolicies>>();

/** The synthesized policies for `desiredState` (asked once per process and request). */
export function synthesizedPolicies(
  desiredState: CompiledDesiredState,
  props: IamProps = {},
): Promise<SynthesizedPolicies> {
  const body = JSON.stringify({ desiredState, props });
  let answer = fetched.get(body);
  if (answer === undefined) {
    answer = (async () => {
      const response = await fetch(`${inject('iamPolicyEndpoint')}/policies`, { method: 'POST', body });
      const text = await response.text();
      if (!response.ok) throw new Error(`synthesizing Phoenix's policies failed:\n${text}`);
      return JSON.parse(text) as SynthesizedPolicies;
    })();
    fetched.set(body, answer);
  }
  return answer;
}

/** The roles' policies for `desiredState`, resolved for the account `names` describes. */
export async function resolvedPolicies(
  desiredState: CompiledDesiredState,
  names: AccountNames,
  props: IamProps = {},
): Promise<ResolvedPolicies> {
  const synth = await synthesizedPolicies(desiredState, props);
  const { region } = names;
  const resolve = cfnResolver({
    region,
    types: synth.types,
    refs: {
      [synth.refs.table]: names.tableName,
      [synth.refs.topic]: names.topicArn,
      [synth.refs.stepsAlias]: localStepsFunctionArn(region),
    },
    attributes: {
      [`${synth.refs.table}.Arn`]: `arn:${PARTITION}:dynamodb:${region}:${ACCOUNT}:table/${names.tableName}`,
      [`${synth.refs.topic}.TopicArn`]: names.topicArn,
    },
    replace: [[synth.refs.stateMachineName, LOCAL_STATE_MACHINE_NAME]],
  });
  const role = (principal: Principal): ResolvedRole => {
    const { logicalId, statements } = synth.roles[principal];
    return {
      principal,
      name: logicalId,
      arn: `arn:${PARTITION}:iam::${ACCOUNT}:role/${logicalId}`,
      policy: { Version: '2012-10-17', Statement: resolve(statements) as Array<Record<string, unknown>> },
    };
  };
  const topicKeyArn = `arn:${PARTITION}:kms:${names.region}:${ACCOUNT}:key/${synth.refs.topicKey}`;
  const resourcePolicies = new Map<string, unknown>([
    [topicKeyArn, resolve(synth.resourcePolicies.topicKey)],
  ]);
  if (synth.resourcePolicies.topic !== undefined) {
    resourcePolicies.set(names.topicArn, resolve(synth.resourcePolicies.topic));
  }
  return {
    roles: {
      evaluator: role('evaluator'),
      'remediation-steps': role('remediation-steps'),
      'state-machine': role('state-machine'),
    },
    topicKeyArn,
    resourcePolicies,
  };
}
