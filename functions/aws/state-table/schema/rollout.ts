/**
 * Rollouts: `rollout#<fleet>` / `<templateId>#<version>`, one item per source change of a fleet
 * (functions/aws/rollout-store.ts reads and writes them; ADR 28). The record type and its codec
 * live here with the other item kinds; no store is imported.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import {
  type HaltCause,
  haltText,
  ROLLOUT_STAGES,
  type Rollout,
  type RolloutStage,
} from '../../../domain/rollout/stage';
import { n, s, str } from './table';

/** The store reads the time through this, so tests and the local runner control it. */
export type Clock = () => Date;

/** A rollout's source: the launch template version (and the image it launches). */
export interface RolloutSource {
  templateId: string;
  version: number;
  imageId?: string;
}

/** A rollout as stored: the stages' {@link Rollout} and what the store adds. */
export interface RolloutRecord extends Rollout {
  /** The bake's length, fixed when the rollout began (a resumed bake bakes this long again). */
  bakeMinutes: number;
  /** The failure budget declared when the rollout began (what `phoenix rollout list` shows failures against). */
  maxFailures: number;
  /** ISO-8601: the last stage change (creation included). */
  stageChangedAt: string;
}

/** What a new rollout begins with. */
export interface NewRollout {
  fleet: string;
  source: RolloutSource;
  /** `firstStage(policy, promotion)`. */
  stage: RolloutStage;
  /** Drifted members known when it begins (more join by {@link RolloutStore.count}). */
  members: number;
  /** `canarySize(policy, fleetSize, members)`. */
  canary: number;
  /** `policy.bakeMinutes`. */
  bakeMinutes: number;
  /** `policy.maxFailures`. */
  maxFailures: number;
}

/** How a counter moves: what a member's execution did. */
export interface RolloutCounts {
  members?: number;
  admitted?: number;
  replaced?: number;
  rolledBack?: number;
  ended?: number;
}

/** The outcome of writing a decided step. */
export type StepWrite =
  /** The step was written; `rollout` is the item as it now is. */
  | { written: true; rollout: RolloutRecord }
  /** Nothing to write (`step.changed` false). */
  | { written: false; reason: 'unchanged'; rollout: RolloutRecord | undefined }
  /** Another process moved the rollout first: `rollout` is what it is now (decide again from it). */
  | { written: false; reason: 'conflict'; rollout: RolloutRecord | undefined };

const STAGES: ReadonlySet<string> = new Set(ROLLOUT_STAGES);
/** The rollout's counters, each moved with `ADD`. */
export const ROLLOUT_COUNTERS = ['members', 'admitted', 'replaced', 'rolledBack', 'ended'] as const;
const COUNTERS = ROLLOUT_COUNTERS;

/** A number attribute that is a finite number (the table's `num` would pass NaN through). */
function num(item: Record<string, AttributeValue>, name: string): number | undefined {
  const value = item[name];
  if (value === undefined || !('N' in value) || value.N === undefined) return undefined;
  const parsed = Number(value.N);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function haltCauseOf(json: string | undefined, by: string | undefined): HaltCause {
  const fallback: HaltCause = { kind: 'operator', by: by ?? 'unknown' };
  if (json === undefined) return fallback;
  try {
    const value = JSON.parse(json) as { kind?: unknown };
    if (value.kind === 'alarm' || value.kind === 'failures' || value.kind === 'operator')
      return value as HaltCause;
  } catch {
    // A cause that cannot be read is still a halt: say who, as far as it is known.
  }
  return fallback;
}

function haltedBy(cause: HaltCause): string {
  switch (cause.kind) {
    case 'operator':
      return cause.by;
    case 'alarm':
      return `alarm ${cause.alarms.join(', ')}`;
    case 'failures':
      return 'failure budget';
  }
}

/**
 * The rollout item's layout, in one place: `rollout#<fleet>` / `<templateId>#<version>`, the
 * counters as numbers, a halt as `haltFrom` / `haltAt` / `haltCause` (JSON) with `haltedBy`
 * and `haltWhy` in words for a person reading the table.
 */
export const ROLLOUT_ITEM = {
  /** The partition of a fleet's rollouts. */
  pk(fleet: string): string {
    if (fleet === '') throw new InvalidInputError('a rollout needs a fleet');
    return `rollout#${fleet}`;
  },
  /** The item's key. */
  key(fleet: string, source: { templateId: string; version: number }): Record<string, AttributeValue> {
    if (source.templateId === '') throw new InvalidInputError('a rollout needs a launch template id');
    if (!Number.isSafeInteger(source.version) || source.version < 1)
      throw new InvalidInputError(
        `a rollout's launch template version must be a whole number ≥ 1, got ${source.version}`,
      );
    return { pk: s(ROLLOUT_ITEM.pk(fleet)), sk: s(`${source.templateId}#${source.version}`) };
  },
  /** The whole item of a record. */
  encode(record: RolloutRecord): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = {
      ...ROLLOUT_ITEM.key(record.fleet, record.source),
      fleet: s(record.fleet),
      templateId: s(record.source.templateId),
      version: n(record.source.version),
      stage: s(record.stage),
      startedAt: s(record.startedAt),
      stageChangedAt: s(record.stageChangedAt),
      canary: n(record.canary),
      bakeMinutes: n(record.bakeMinutes),
      maxFailures: n(record.maxFailures),
    };
    for (const counter of COUNTERS) item[counter] = n(record[counter]);
    if (record.source.imageId !== undefined) item.imageId = s(record.source.imageId);
    Object.assign(item, ROLLOUT_ITEM.stageAttributes(record));
    return item;
  },
  /** The attributes a stage transition owns (set ones only; see {@link ROLLOUT_ITEM.STAGE_OWNED}). */
  stageAttributes(rollout: Rollout): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = { stage: s(rollout.stage) };
    if (rollout.bakeUntil !== undefined) item.bakeUntil = s(rollout.bakeUntil);
    if (rollout.approvedBy !== undefined) item.approvedBy = s(rollout.approvedBy);
    if (rollout.rolledBackBeforeResume !== undefined)
      item.rolledBackBeforeResume = n(rollout.rolledBackBeforeResume);
    if (rollout.halt !== undefined) {
      item.haltFrom = s(rollout.halt.from);
      item.haltAt = s(rollout.halt.at);
      item.haltCause = s(JSON.stringify(rollout.halt.cause));
      item.haltedBy = s(haltedBy(rollout.halt.cause));
      item.haltWhy = s(haltText(rollout.halt.cause));
    }
    return item;
  },
  /** Every attribute a stage transition may set or remove. */
  STAGE_OWNED: [
    'stage',
    'bakeUntil',
    'approvedBy',
    'rolledBackBeforeResume',
    'haltFrom',
    'haltAt',
    'haltCause',
    'haltedBy',
    'haltWhy',
  ] as const,
  /** The record an item holds; an item that is not a rollout is an {@link InvalidInputError} naming it. */
  decode(item: Record<string, AttributeValue>): RolloutRecord {
    const stage = str(item, 'stage') ?? '';
    const fleet = str(item, 'fleet') ?? '';
    const templateId = str(item, 'templateId') ?? '';
    const version = num(item, 'version') ?? 0;
    if (!STAGES.has(stage) || fleet === '' || templateId === '' || version < 1) {
      throw new InvalidInputError(
        `the state table's item ${str(item, 'pk') ?? '?'} / ${str(item, 'sk') ?? '?'} is not a rollout (stage ${JSON.stringify(stage)})`,
      );
    }
    const startedAt = str(item, 'startedAt') ?? '';
    const record: RolloutRecord = {
      fleet,
      source: { templateId, version },
      stage: stage as RolloutStage,
      startedAt,
      stageChangedAt: str(item, 'stageChangedAt') ?? startedAt,
      members: num(item, 'members') ?? 0,
      admitted: num(item, 'admitted') ?? 0,
      replaced: num(item, 'replaced') ?? 0,
      rolledBack: num(item, 'rolledBack') ?? 0,
      ended: num(item, 'ended') ?? 0,
      canary: num(item, 'canary') ?? 0,
      bakeMinutes: num(item, 'bakeMinutes') ?? 0,
      maxFailures: num(item, 'maxFailures') ?? 0,
    };
    const imageId = str(item, 'imageId');
    if (imageId !== undefined) record.source.imageId = imageId;
    const bakeUntil = str(item, 'bakeUntil');
    if (bakeUntil !== undefined) record.bakeUntil = bakeUntil;
    const approvedBy = str(item, 'approvedBy');
    if (approvedBy !== undefined) record.approvedBy = approvedBy;
    const before = num(item, 'rolledBackBeforeResume');
    if (before !== undefined) record.rolledBackBeforeResume = before;
    const haltFrom = str(item, 'haltFrom');
    if (record.stage === 'halted') {
      record.halt = {
        cause: haltCauseOf(str(item, 'haltCause'), str(item, 'haltedBy')),
        at: str(item, 'haltAt') ?? record.stageChangedAt,
        from: haltFrom !== undefined && STAGES.has(haltFrom) ? (haltFrom as RolloutStage) : 'rolling',
      };
    }
    return record;
  },
};

/** How a source reads in a message: `lt-0abc v7`. */
export function sourceText(source: { templateId: string; version: number }): string {
  return `${source.templateId} v${source.version}`;
}
