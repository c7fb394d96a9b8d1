/**
 * Starting the remediation state machine for one drifted instance, exactly once.
 *
 * The execution name is derived from the instance id and the drift fingerprint, so every
 * event reporting the same drift (duplicates, replays, a CloudTrail event and the Config
 * notification that follows it, events arriving out of order) names the same execution and
 * Step Functions starts it once. A new drift of the same instance has a new fingerprint and
 * therefore gets its own execution.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../domain/errors';
import type { DriftReason } from '../domain/model';

/** Step Functions execution names: 1..80 characters of `[A-Za-z0-9-_]`. */
export const EXECUTION_NAME_MAX_LENGTH = 80;
const NAME_UNSAFE = /[^A-Za-z0-9_-]/g;

/**
 * The deterministic execution name: `<instance id>-<fingerprint>`, e.g.
 * `i-0123456789abcdef0-v1-9f86d081884c7d659a2feaa0`. Characters Step Functions refuses are
 * replaced by `_`; an over-long name keeps its end (the fingerprint is what tells drifts apart).
 */
export function executionName(instanceId: string, fingerprint: string): string {
  if (instanceId === '' || fingerprint === '') {
    throw new InvalidInputError('an execution name needs an instance id and a fingerprint');
  }
  const name = `${instanceId}-${fingerprint}`.replace(NAME_UNSAFE, '_');
  return name.length <= EXECUTION_NAME_MAX_LENGTH
    ? name
    : name.slice(name.length - EXECUTION_NAME_MAX_LENGTH);
}

/** Version of {@link RemediationRequest}; the state machine refuses inputs it does not know. */
export const REMEDIATION_REQUEST_VERSION = 1;

/**
 * The execution input: everything the remediation needs, pinned at detection time, so the
 * execution replaces the instance against exactly the drift and source that were judged
 * (never a `$Latest` that moved in between).
 */
export interface RemediationRequest {
  requestVersion: typeof REMEDIATION_REQUEST_VERSION;
  instanceId: string;
  fleet: string;
  fingerprint: string;
  reasons: DriftReason[];
  desiredState: { revision: string; commit: string };
  /** The fleet's launch template, its version resolved to a number. */
  launchTemplate: { id: string; name: string; version: number };
  /** ISO-8601: when Phoenix judged the instance drifted. */
  detectedAt: string;
  /** What triggered the detection (`CreateTags`, `ConfigurationItemChangeNotification`, …). */
  trigger: string;
  /** Who caused the drift, when an API call says so (CloudTrail `userIdentity.arn`). */
  principal?: string;
}

export type StartOutcome =
  | { started: true; executionArn: string }
  | { started: false; reason: 'already-exists' };

/**
 * Starts the execution, or finds it already started. `ExecutionAlreadyExists` (same name,
 * another input: e.g. another detection time) means an earlier event started this very
 * remediation, which is success. A running execution started again with the same input is
 * returned by Step Functions itself, also success.
 */
export async function startRemediation(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string,
  request: RemediationRequest,
): Promise<StartOutcome & { name: string }> {
  const name = executionName(request.instanceId, request.fingerprint);
  try {
    const out = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(request) }),
    );
    return { started: true, executionArn: out.executionArn ?? executionArnOf(stateMachineArn, name), name };
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionAlreadyExists') {
      return { started: false, reason: 'already-exists', name };
    }
    throw error;
  }
}

/** `arn:aws:states:r:a:stateMachine:sm` + name → `arn:aws:states:r:a:execution:sm:name`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}
