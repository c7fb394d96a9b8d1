/**
 * A member's admission into its fleet's rollout, written with its lease: `admitted` moves by
 * one, conditional on the stage the admission decided from and on the stage's quota
 * (docs/adr/0031-rollout-admission-on-the-lease.md). Of two executions racing for the last
 * canary slot, exactly one write lands.
 */
import type { AttributeValue, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { ROLLOUT_ITEM } from '../schema/rollout';
import { expiry, n, s } from '../schema/table';

/** How long a member's admission marker outlives a crashed execution (it is deleted at its end). */
export const MEMBER_MARKER_TTL_SECONDS = 14 * 24 * 3600;

/**
 * The key of a member's admission marker: written with its admission, deleted (conditionally)
 * when its end is counted. It makes both idempotent: a retried lease step finds it and does not
 * count the member twice; a retried end finds it gone and does not settle it twice. Its own
 * partition, so a Query of a fleet's rollouts never reads one.
 */
export function memberKey(
  fleet: string,
  source: { templateId: string; version: number },
  holder: string,
): Record<string, AttributeValue> {
  return { pk: s(`rollout-member#${fleet}#${source.templateId}#${source.version}`), sk: s(holder) };
}

/** The marker's put, only if absent. */
export function memberMarkerPut(
  table: { name: string },
  admission: RolloutAdmission,
  holder: string,
  nowSeconds: number,
): NonNullable<TransactWriteItem['Put']> {
  return {
    TableName: table.name,
    Item: {
      ...memberKey(admission.fleet, admission.source, holder),
      admittedAt: s(new Date(nowSeconds * 1000).toISOString()),
      ...expiry(nowSeconds + MEMBER_MARKER_TTL_SECONDS),
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  };
}

/** What a lease request carries for a rollout member: the rollout as the admission read it. */
export interface RolloutAdmission {
  fleet: string;
  source: { templateId: string; version: number };
  /** The stage read: the admission holds only while it still is. */
  stage: 'canary' | 'rolling';
  /**
   * The counters read. In `canary` the quota depends on all three (replaced, in flight and
   * rolled back count), so they must be unchanged; in `rolling` only `admitted < members`.
   */
  admitted: number;
  rolledBack: number;
  ended: number;
}

/** The conditional `ADD admitted 1` of an admission, as an Update (a transaction item or alone). */
export function admissionUpdate(
  table: { name: string },
  admission: RolloutAdmission,
): NonNullable<TransactWriteItem['Update']> {
  const names: Record<string, string> = { '#stage': 'stage', '#admitted': 'admitted' };
  const values: Record<string, AttributeValue> = { ':stage': s(admission.stage), ':one': n(1) };
  const conditions = ['attribute_exists(pk)', '#stage = :stage'];
  if (admission.stage === 'canary') {
    names['#rolledBack'] = 'rolledBack';
    names['#ended'] = 'ended';
    values[':admitted'] = n(admission.admitted);
    values[':rolledBack'] = n(admission.rolledBack);
    values[':ended'] = n(admission.ended);
    conditions.push('#admitted = :admitted', '#rolledBack = :rolledBack', '#ended = :ended');
  } else {
    names['#members'] = 'members';
    conditions.push('#admitted < #members');
  }
  return {
    TableName: table.name,
    Key: ROLLOUT_ITEM.key(admission.fleet, admission.source),
    UpdateExpression: 'ADD #admitted :one',
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The admission given back (a lease refused after the rollout counted it: the slow path). */
export function admissionReturn(
  table: { name: string },
  admission: RolloutAdmission,
): NonNullable<TransactWriteItem['Update']> {
  return {
    TableName: table.name,
    Key: ROLLOUT_ITEM.key(admission.fleet, admission.source),
    UpdateExpression: 'ADD #admitted :minus',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#admitted': 'admitted' },
    ExpressionAttributeValues: { ':minus': n(-1) },
  };
}

/** Why a lease was refused when the rollout moved under the admission. */
export function rolloutMovedReason(admission: RolloutAdmission): string {
  return `fleet ${admission.fleet}: its rollout moved while this member was being admitted (the ${admission.stage} stage's quota was taken, or the stage changed); asking again`;
}

/** How a member's end counts on its rollout. */
export type MemberEnd = 'replaced' | 'rolledBack' | 'ended';

/**
 * The end of an admitted member counted once: its marker deleted (condition: still there) and
 * its counter moved by `ADD`, in one transaction. A retried end finds the marker gone and
 * counts nothing (`settled: false`).
 */
export function memberSettlement(
  table: { name: string },
  fleet: string,
  source: { templateId: string; version: number },
  holder: string,
  end: MemberEnd,
): TransactWriteItem[] {
  return [
    {
      Delete: {
        TableName: table.name,
        Key: memberKey(fleet, source, holder),
        ConditionExpression: 'attribute_exists(pk)',
      },
    },
    {
      Update: {
        TableName: table.name,
        Key: ROLLOUT_ITEM.key(fleet, source),
        UpdateExpression: 'ADD #counter :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#counter': end },
        ExpressionAttributeValues: { ':one': n(1) },
      },
    },
  ];
}
