/**
 * Starting the remediation state machine for one drifted instance, exactly once per attempt.
 *
 * The execution name is derived from the instance id, the drift fingerprint and the drift's
 * attempt generation (kept in the state table), so every event reporting the same drift
 * (duplicates, replays, a CloudTrail event and the Config notification that follows it,
 * events arriving out of order) names the same execution and Step Functions starts it once.
 * A new drift of the same instance has a new fingerprint and therefore its own execution.
 *
 * Step Functions refuses the name of a Standard execution for 90 days after it ends. An
 * execution that ends without replacing for a reason that can pass (paused, blocked by the
 * budget, failed before changing anything) therefore moves its drift to the next attempt as
 * it ends (`StateStore.nextAttempt`): the next detection starts a new execution. One that must
 * not be retried (rolled back and quarantined, source drift, manual action, already compliant)
 * leaves the attempt as it is, and its name keeps refusing the drift.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../domain/errors';
import type { DriftReason } from '../domain/model';

/** Step Functions execution names: 1..80 characters of `[A-Za-z0-9-_]`. */
export const EXECUTION_NAME_MAX_LENGTH = 80;
const NAME_UNSAFE = /[^A-Za-z0-9_-]/g;

/**
 * The deterministic execution name: `<instance id>-<fingerprint>-<attempt>`, e.g.
 * `i-0123456789abcdef0-v1-9f86d081884c7d659a2feaa0-0` (at most 19 + 1 + 27 + 1 + the
 * attempt's digits: about 50 characters). Characters Step Functions refuses are replaced by
 * `_`; an over-long name keeps its end (fingerprint and attempt tell executions apart).
 */
export function executionName(instanceId: string, fingerprint: string, attempt: number): string {
  if (instanceId === '' || fingerprint === '') {
    throw new InvalidInputError('an execution name needs an instance id and a fingerprint');
  }
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new InvalidInputError(`an execution's attempt is a whole number ≥ 0, got ${attempt}`);
  }
  const name = `${instanceId}-${fingerprint}-${attempt}`.replace(NAME_UNSAFE, '_');
  return name.length <= EXECUTION_NAME_MAX_LENGTH
    ? name
    : name.slice(name.length - EXECUTION_NAME_MAX_LENGTH);
}

/** The drift an execution remediated, and the attempt it ran as. */
export interface ExecutionAttempt {
  instanceId: string;
  fingerprint: string;
  attempt: number;
  /** The execution's name. */
  execution: string;
}

/** {@link executionName}'s `<instance id>-<fingerprint>-<attempt>`, the fingerprint being `v<hash version>-<hex>`. */
const DRIFT_EXECUTION_NAME = /^(i-[0-9a-f]+)-(v[0-9]+-[0-9a-f]+)-([0-9]+)$/;

/**
 * The drift and attempt of the execution a quarantine records (its ARN, or its name).
 * Undefined for a name `executionName` did not make: `unknown`, or an execution started
 * before names carried an attempt (its name no longer refuses anything).
 */
export function driftAttemptOf(execution: string): ExecutionAttempt | undefined {
  const name = execution.slice(execution.lastIndexOf(':') + 1);
  const [, instanceId = '', fingerprint = '', attempt = ''] = DRIFT_EXECUTION_NAME.exec(name) ?? [];
  const generation = Number(attempt);
  if (instanceId === '' || !Number.isSafeInteger(generation)) return undefined;
  return { instanceId, fingerprint, attempt: generation, execution: name };
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
  /**
   * The drift's attempt generation, read from the state table when the execution is
   * started; part of the execution name. The execution moves the drift to the next one if
   * it ends without replacing for a reason that can pass.
   */
  attempt: number;
}

export type StartOutcome =
  | { started: true; executionArn: string }
  | { started: false; reason: 'already-exists' };

/**
 * Starts the execution, or finds it already started. `ExecutionAlreadyExists` (same name,
 * another input: e.g. another detection time) means an earlier event started this very
 * attempt, running or ended (succeeded, or ended in a way that must not be retried), which
 * is success. A running execution started again with the same input is returned by Step
 * Functions itself, also success.
 */
export async function startRemediation(
  sfn: Pick<SFNClient, 'send'>,
  stateMachineArn: string,
  request: RemediationRequest,
): Promise<StartOutcome & { name: string }> {
  const name = executionName(request.instanceId, request.fingerprint, request.attempt);
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
