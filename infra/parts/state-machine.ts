/**
 * The remediate-instance state machine, loaded from `state-machines/` as authored (the
 * same file the local runner executes), with definition substitutions for the names only
 * the deployment knows. Standard workflow, every event logged, X-Ray traced.
 *
 * Its role is derived from the definition: each Task's SDK call is granted on the
 * narrowest resource (iam-scoping.ts) and each Lambda it references may be invoked, and
 * nothing else.
 */
import { Names, type RemovalPolicy } from 'aws-cdk-lib';
import type { Alias } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CompiledFleet } from '../../functions/domain/model';
import { AslWiringError } from '../errors';
import { permissionFor, placeholdersOf, readAsl, taskStates } from './asl';
import { PROJECT_ROOT } from './functions';
import { grantScoped, regionalArn, type ScopeTargets } from './iam-scoping';
import { acknowledge, allow } from './nag';

/** The ASL file, relative to the repository root. */
export const STATE_MACHINE_FILE = 'state-machines/remediate-instance.asl.json';

/** The substitutions the ASL may use, exactly (the shared contract). */
export const SUBSTITUTION_NAMES = ['StepsFunctionArn', 'TableName', 'TopicArn'] as const;
export type SubstitutionName = (typeof SUBSTITUTION_NAMES)[number];

/** How a Lambda task names the steps function: the only function the state machine may invoke. */
const STEPS_PLACEHOLDER = `\${StepsFunctionArn}`;

export interface RemediationStateMachineProps {
  /** Fixed at synth ({@link stateMachineNameFor}), so callers know the ARN before the state machine exists. */
  stateMachineName: string;
  steps: Alias;
  tableName: string;
  fleets: readonly CompiledFleet[];
  targets: Omit<ScopeTargets, 'stateMachineArn' | 'stateMachineName'>;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  /** Override the definition file (tests); default {@link STATE_MACHINE_FILE}. */
  definitionFile?: string;
}

/**
 * The state machine's log group: under `/aws/vendedlogs/`, so CloudWatch Logs needs no new
 * statement in the account's log resource policy for it. Step Functions delivers logs as a
 * vended log; outside that prefix, creating the state machine adds a statement for its log
 * group to the account's one resource policy, and fails once that policy nears its 5,120
 * characters (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html).
 */
export function stateMachineLogGroupName(stateMachineName: string): string {
  return `/aws/vendedlogs/states/${stateMachineName}`;
}

/**
 * A state machine name unique to `scope`, fixed at synth so its ARN is known without a
 * reference (the steps function needs the ARN, and the state machine needs the steps
 * function: a cycle otherwise).
 */
export function stateMachineNameFor(scope: Construct): string {
  return Names.uniqueResourceName(scope, { maxLength: 80, separator: '-' });
}

export class RemediationStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  readonly logGroup: LogGroup;
  /** The substitutions given to CloudFormation, by placeholder name. */
  readonly substitutions: Record<string, string>;

  /** The ARN, computed from the fixed name: usable before (and without depending on) the state machine. */
  static arnFor(name: string): string {
    return regionalArn('states', `stateMachine:${name}`);
  }

  constructor(scope: Construct, id: string, props: RemediationStateMachineProps) {
    super(scope, id);
    const file = props.definitionFile ?? `${PROJECT_ROOT}${STATE_MACHINE_FILE}`;
    const { text, definition } = readAsl(file);

    const available: Record<SubstitutionName, string> = {
      StepsFunctionArn: props.steps.functionArn,
      TableName: props.tableName,
      TopicArn: props.targets.topicArn,
    };
    const used = placeholdersOf(text);
    const unknown = used.filter((name) => !(SUBSTITUTION_NAMES as readonly string[]).includes(name));
    if (unknown.length > 0) {
      throw new AslWiringError(
        `${file} uses \${${unknown.join('}, ${')}} but only \${${SUBSTITUTION_NAMES.join('}, ${')}} are substituted`,
      );
    }
    this.substitutions = Object.fromEntries(used.map((name) => [name, available[name as SubstitutionName]]));

    this.stateMachineName = props.stateMachineName;
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: stateMachineLogGroupName(this.stateMachineName),
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(file),
      definitionSubstitutions: this.substitutions,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: 'Phoenix: drain a drifted instance and replace it from the current launch template',
    });
    const role = this.stateMachine.role;

    const invoked = new Set<string>();
    const actions: string[] = [];
    for (const task of taskStates(definition)) {
      const permission = permissionFor(task);
      if (permission.kind === 'action') {
        actions.push(permission.action);
        continue;
      }
      if (permission.functionRef !== STEPS_PLACEHOLDER) {
        throw new AslWiringError(
          `${task.path} invokes ${permission.functionRef}; Lambda tasks must invoke \${StepsFunctionArn}`,
        );
      }
      invoked.add(props.steps.functionArn);
    }
    if (invoked.size > 0) allow(role, { actions: ['lambda:InvokeFunction'], resources: [...invoked] });
    grantScoped(role, actions, props.fleets, {
      ...props.targets,
      stateMachineArn: RemediationStateMachine.arnFor(this.stateMachineName),
      stateMachineName: this.stateMachineName,
    });

    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'CloudWatch Logs vended-log delivery (logging ALL to a log group) and X-Ray tracing have no ' +
        'resource-level permissions; any other "*" is an AWS action without resource-level permissions, ' +
        'listed in its own statement.',
    );
  }
}
