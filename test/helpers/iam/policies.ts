/**
 * Phoenix's role policies for one desired state, resolved for the emulated account: the
 * synthesized statements (from the run's policy server) with every CloudFormation reference
 * replaced by what it names in this account — the test's state table and topic, the local
 * runner's steps function and state machine — so iam-simulate can decide real requests.
 */
import { inject } from 'vitest';
import type { Principal } from '../../../functions/aws/call-gate';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { localStepsFunctionArn } from '../../../functions/remediation/local-runner';
import type { IamProps, SynthesizedPolicies } from './synthesized-policies';

/** The emulated account (moto's default account). */
export const ACCOUNT = '123456789012';
export const PARTITION = 'aws';
/** The name local runs give the state machine (local-runner.ts and reconcile.ts). */
export const LOCAL_STATE_MACHINE_NAME = 'phoenix-remediate-instance';

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

type Resolver = (node: unknown) => unknown;

function intrinsics(synth: SynthesizedPolicies, names: AccountNames): Resolver {
  const { region } = names;
  const keyArn = `arn:${PARTITION}:kms:${region}:${ACCOUNT}:key/${synth.refs.topicKey}`;
  const refs: Record<string, string> = {
    'AWS::Partition': PARTITION,
    'AWS::Region': region,
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    [synth.refs.table]: names.tableName,
    [synth.refs.topic]: names.topicArn,
    [synth.refs.stepsAlias]: localStepsFunctionArn(region),
  };
  const attributes: Record<string, string> = {
    [`${synth.refs.table}.Arn`]: `arn:${PARTITION}:dynamodb:${region}:${ACCOUNT}:table/${names.tableName}`,
    [`${synth.refs.topicKey}.Arn`]: keyArn,
    [`${synth.refs.topic}.TopicArn`]: names.topicArn,
  };
  const text = (value: unknown): string => {
    const resolved = resolve(value);
    return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
  };
  const resolve: Resolver = (node) => {
    if (typeof node === 'string')
      return node.replaceAll(synth.refs.stateMachineName, LOCAL_STATE_MACHINE_NAME);
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1) {
      const [key = ''] = keys;
      const value = record[key];
      if (key === 'Ref') return refs[String(value)] ?? `<${String(value)}>`;
      if (key === 'Fn::GetAtt' && Array.isArray(value)) {
        const path = `${String(value[0])}.${String(value[1])}`;
        return attributes[path] ?? `<${path}>`;
      }
      if (key === 'Fn::Join' && Array.isArray(value)) {
        const [delimiter, parts] = value as [string, unknown[]];
        return resolve(parts.map(text).join(delimiter));
      }
      if (key === 'Fn::Sub') {
        const [template, variables] = (Array.isArray(value) ? value : [value, {}]) as [
          string,
          Record<string, unknown>,
        ];
        return resolve(
          template.replace(/\$\{([^}]+)\}/g, (_whole, name: string) => {
            if (name in variables) return text(variables[name]);
            if (name.includes('.')) return attributes[name] ?? `<${name}>`;
            return refs[name] ?? `<${name}>`;
          }),
        );
      }
      if (key === 'Fn::Select' && Array.isArray(value)) {
        const list = resolve(value[1]);
        return Array.isArray(list) ? list[Number(value[0])] : `<select>`;
      }
      if (key === 'Fn::Split' && Array.isArray(value)) return text(value[1]).split(String(value[0]));
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

/** The roles' policies for `desiredState`, resolved for the account `names` describes. */
export async function resolvedPolicies(
  desiredState: CompiledDesiredState,
  names: AccountNames,
  props: IamProps = {},
): Promise<ResolvedPolicies> {
  const synth = await synthesizedPolicies(desiredState, props);
  const resolve = intrinsics(synth, names);
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
