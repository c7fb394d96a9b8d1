/**
 * The compliance record: Phoenix's verdicts written back to the AWS Config rule.
 *
 * Only a Config rule invocation carries a result token, so only Config-origin events write
 * evaluations; the EventBridge fast path acts (notifies, starts remediation) and leaves the
 * record to Config's own change notification, which follows within minutes.
 */

import { createHash } from 'node:crypto';
import {
  type ComplianceType,
  type ConfigServiceClient,
  type Evaluation,
  PutEvaluationsCommand,
} from '@aws-sdk/client-config-service';
import { isTransientAwsError } from '../aws/transient';
import type { DriftReason } from '../domain/model';
import { EvaluationsNotRecordedError } from './errors';

/** PutEvaluations accepts at most 100 evaluations per call. */
export const PUT_EVALUATIONS_BATCH_SIZE = 100;
/** Config cuts nothing itself: a longer annotation fails the whole call. */
export const ANNOTATION_MAX_LENGTH = 256;
/** The resource type of every evaluation Phoenix writes. */
export const EC2_INSTANCE_RESOURCE_TYPE = 'AWS::EC2::Instance';

/** One verdict as Config records it. */
export interface ComplianceRecord {
  resourceId: string;
  resourceType?: string;
  compliance: Extract<ComplianceType, 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE'>;
  /** Why; cut to {@link ANNOTATION_MAX_LENGTH}. */
  annotation?: string;
  /** The configuration item's capture time (change events) or the notification time (sweeps). */
  orderingTimestamp: Date;
}

const ELLIPSIS = '...';

/** Cuts an annotation to Config's limit, marking the cut. Empty text becomes no annotation. */
export function cutAnnotation(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length <= ANNOTATION_MAX_LENGTH) return trimmed;
  return `${trimmed.slice(0, ANNOTATION_MAX_LENGTH - ELLIPSIS.length)}${ELLIPSIS}`;
}

function show(value: string | null): string {
  return value === null ? '(none)' : value;
}

/** `tags.Owner: expected team-web, found someone; imageId: …` — most useful first, as Config shows it. */
export function describeReasons(reasons: readonly DriftReason[]): string {
  return reasons.map((r) => `${r.field}: expected ${show(r.expected)}, found ${show(r.actual)}`).join('; ');
}

/**
 * A short, stable digest of what Config records for an evaluation: its compliance and its
 * annotation as cut. Two evaluations with one digest are the same to Config (the compliance
 * ledger sends only evaluations whose digest changed).
 */
export function evaluationDigest(record: Pick<ComplianceRecord, 'compliance' | 'annotation'>): string {
  const annotation = record.annotation === undefined ? '' : (cutAnnotation(record.annotation) ?? '');
  return createHash('sha256').update(`${record.compliance}\n${annotation}`).digest('base64url').slice(0, 12);
}

export function toEvaluation(record: ComplianceRecord): Evaluation {
  const evaluation: Evaluation = {
    ComplianceResourceType: record.resourceType ?? EC2_INSTANCE_RESOURCE_TYPE,
    ComplianceResourceId: record.resourceId,
    ComplianceType: record.compliance,
    OrderingTimestamp: record.orderingTimestamp,
  };
  const annotation = record.annotation === undefined ? undefined : cutAnnotation(record.annotation);
  if (annotation !== undefined) evaluation.Annotation = annotation;
  return evaluation;
}

export interface RecordOptions {
  /** Attempts per batch, first included (a failure that passes, and `FailedEvaluations`). */
  maxAttempts?: number;
  /** Waits between attempts; injected so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** Delay before the second attempt; doubled each time up to {@link MAX_BACKOFF_MS}. */
  baseDelayMs?: number;
}

export interface RecordResult {
  /** PutEvaluations calls made, retries included. */
  calls: number;
  recorded: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_BASE_DELAY_MS = 250;
const MAX_BACKOFF_MS = 5_000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with "equal jitter": never less than half the step, never two callers in lockstep. */
function backoff(attempt: number, baseMs: number): number {
  const step = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (attempt - 1));
  return step / 2 + Math.random() * (step / 2);
}

function sameResource(a: Evaluation, b: Evaluation): boolean {
  return (
    a.ComplianceResourceId === b.ComplianceResourceId && a.ComplianceResourceType === b.ComplianceResourceType
  );
}

/**
 * Writes the records with the rule's result token, 100 per call; no records, no call.
 *
 * The SDK client retries throttling and 5xx itself; this loop adds a second line for any
 * failure that passes (`isTransientAwsError`: a sweep writes hundreds of batches and may
 * outlast the SDK's few attempts; an evaluation written twice is the same evaluation) and
 * retries the evaluations Config lists in `FailedEvaluations`, which the SDK sees as a success.
 *
 * @throws EvaluationsNotRecordedError when evaluations are still refused after every attempt
 * @throws the SDK error when a call fails for a reason that does not pass
 */
export async function recordCompliance(
  config: Pick<ConfigServiceClient, 'send'>,
  resultToken: string,
  records: readonly ComplianceRecord[],
  options: RecordOptions = {},
): Promise<RecordResult> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const sleep = options.sleep ?? defaultSleep;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const evaluations = records.map(toEvaluation);
  let calls = 0;

  for (let start = 0; start < evaluations.length; start += PUT_EVALUATIONS_BATCH_SIZE) {
    let pending = evaluations.slice(start, start + PUT_EVALUATIONS_BATCH_SIZE);
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      let failed: Evaluation[];
      try {
        calls += 1;
        const out = await config.send(
          new PutEvaluationsCommand({ ResultToken: resultToken, Evaluations: pending }),
        );
        failed = out.FailedEvaluations ?? [];
      } catch (error) {
        if (!isTransientAwsError(error) || attempt >= maxAttempts) throw error;
        await sleep(backoff(attempt, baseDelayMs));
        continue;
      }
      if (failed.length === 0) break;
      const refused = pending.filter((e) => failed.some((f) => sameResource(e, f)));
      if (attempt >= maxAttempts || refused.length === 0) {
        const ids = (refused.length > 0 ? refused : failed).map((e) => e.ComplianceResourceId).join(', ');
        throw new EvaluationsNotRecordedError(
          `AWS Config refused ${failed.length} evaluation(s) after ${attempt} attempt(s): ${ids}`,
        );
      }
      pending = refused;
      await sleep(backoff(attempt, baseDelayMs));
    }
  }
  return { calls, recorded: evaluations.length };
}
