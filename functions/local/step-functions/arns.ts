/**
 * The names of the local account's Step Functions: the account id, the state machine and the
 * steps function as local runs call them, and the ARN each local execution is given. The IAM
 * specs resolve the synthesized policies to these same names (test/helpers/iam).
 */
import { randomUUID } from 'node:crypto';

/** The account id of local ARNs. */
export const LOCAL_ACCOUNT = '123456789012';

/** The state machine's name in local ARNs. */
export const LOCAL_STATE_MACHINE_NAME = 'phoenix-remediate-instance';

/** The ARN local runs give the remediation state machine. */
export function localStateMachineArn(region = 'us-east-1'): string {
  return `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:${LOCAL_STATE_MACHINE_NAME}`;
}

/**
 * A new ARN for one local execution named `name`:
 * `arn:aws:states:<region>:123456789012:execution:phoenix-remediate-instance/local-<uuid>:<name>`.
 *
 * The ARN is the execution's identity as a holder in the state table (leases, group locks,
 * instance claims). Step Functions makes it unique by refusing a name twice; locally nothing
 * does, and two processes (two `phoenix reconcile`, or one beside the deployed stack sharing
 * its table) start executions of the same name. So every local execution gets its own ARN,
 * however it is named, and the name stays the last part, as in Step Functions, for whatever
 * reads the name from the ARN (notifications, the standalone replacement's tag, quarantine
 * lift). See docs/adr/0021-one-replacement-per-instance.md.
 */
export function localExecutionArn(name: string, region = 'us-east-1'): string {
  return `arn:aws:states:${region}:${LOCAL_ACCOUNT}:execution:${LOCAL_STATE_MACHINE_NAME}/local-${randomUUID()}:${name}`;
}

/** The local ARN the definition's `${StepsFunctionArn}` becomes. */
export function localStepsFunctionArn(region = 'us-east-1'): string {
  return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:phoenix-remediation-steps`;
}
