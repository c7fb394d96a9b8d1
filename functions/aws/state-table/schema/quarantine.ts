/**
 * Quarantines: `quarantine` / `<fleet>#<templateId>#<version>`, one per launch template version
 * that failed for a fleet (no expiry: a human lifts it). The state machine's
 * `QuarantineTemplateVersion` state writes this item itself, its layout written out in the ASL
 * (test/aws/state-table/asl-quarantine-item.test.ts reads it back through this codec).
 */
import { type Item, itemKey, num, str } from './table';

/** Which version of which template, for which fleet. */
export interface QuarantineKey {
  fleet: string;
  templateId: string;
  version: number;
}

export interface Quarantine extends QuarantineKey {
  /** Why the version was quarantined (the rollback's cause). */
  cause: string;
  /** The execution that failed with it (ARN or name). */
  execution: string;
  /** ISO-8601 time of the quarantine. */
  at: string;
}

export const QUARANTINE_PK = 'quarantine';

/** The quarantine's key. Fleet names have no `#` (FLEET_NAME_PATTERN), so the parts cannot run together. */
export function quarantineKey(key: QuarantineKey): Item {
  return itemKey(QUARANTINE_PK, `${key.fleet}#${key.templateId}#${key.version}`);
}

/** The sort key prefix of every quarantine of one fleet. */
export function fleetQuarantinesPrefix(fleet: string): string {
  return `${fleet}#`;
}

/** The quarantine as an item; an empty cause or execution is written as `unknown`. */
export function quarantineItem(quarantine: Quarantine): Item {
  return {
    ...quarantineKey(quarantine),
    fleet: { S: quarantine.fleet },
    templateId: { S: quarantine.templateId },
    version: { N: String(quarantine.version) },
    cause: { S: quarantine.cause === '' ? 'unknown' : quarantine.cause },
    execution: { S: quarantine.execution === '' ? 'unknown' : quarantine.execution },
    at: { S: quarantine.at },
  };
}

export function quarantineFromItem(item: Item): Quarantine {
  return {
    fleet: str(item, 'fleet') ?? '',
    templateId: str(item, 'templateId') ?? '',
    version: num(item, 'version') ?? 0,
    cause: str(item, 'cause') ?? '',
    execution: str(item, 'execution') ?? '',
    at: str(item, 'at') ?? '',
  };
}
