/**
 * The drift fingerprint: a short, stable name for "this instance is drifted in exactly this way".
 *
 * It de-duplicates notifications (one per new fingerprint) and, together with the instance id,
 * names the remediation execution, so starting the same remediation twice is a no-op.
 */
import { createHash } from 'node:crypto';
import type { DriftReason } from '../model';

/**
 * Version of the hashing below, written into every fingerprint.
 *
 * Bump it whenever the canonical form or the hash changes: fingerprints of different
 * versions are never compared as "the same drift changed", so a new version must not mark
 * a whole fleet as newly drifted — consumers compare versions before comparing digests.
 */
export const FINGERPRINT_HASH_VERSION = 1;

/** 24 hex digits = 96 bits: collisions are out of reach for any fleet, and the name stays short. */
const DIGEST_HEX_LENGTH = 24;

/**
 * Length of every fingerprint of the current version: `v1-` plus the digest.
 * An execution name `<instance id>-<fingerprint>-<attempt>` is at most 19 + 1 + 27 + 1 + the
 * attempt's digits (about 50 characters), well inside Step Functions' 80.
 */
export const FINGERPRINT_LENGTH = `v${FINGERPRINT_HASH_VERSION}-`.length + DIGEST_HEX_LENGTH;

/** Code-unit order: unlike `localeCompare`, the same on every machine and runtime. */
function compareStrings(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/**
 * The canonical order of reasons: by kind, then field (then the values, so that even two
 * reasons with the same kind and field have one order).
 */
export function compareReasons(a: DriftReason, b: DriftReason): number {
  return (
    compareStrings(a.kind, b.kind) ||
    compareStrings(a.field, b.field) ||
    compareStrings(a.expected, b.expected) ||
    compareStrings(a.actual, b.actual) ||
    compareStrings(a.source, b.source)
  );
}

/**
 * What of a reason identifies the drift.
 *
 * A `max-age` reason's actual value ("41 days") grows every day while the drift stays the
 * same; hashing it would mint a new fingerprint daily, so a waiting remediation would see
 * "the drift changed", a second execution would start for the same instance and notify
 * mode would repeat itself every day. Its identity is "older than the limit": the limit
 * (expected) is hashed, the age is not.
 */
function identityOf(reason: DriftReason): [string, string, string | null, string | null, string] {
  const actual = reason.kind === 'max-age' ? 'exceeded' : reason.actual;
  return [reason.kind, reason.field, reason.expected, actual, reason.source];
}

/**
 * A stable hash of the reasons, prefixed by {@link FINGERPRINT_HASH_VERSION}: `v1-<24 hex>`.
 *
 * The same set of reasons gives the same fingerprint whatever their order; any change of a
 * kind, field, expected or actual value, or source gives another (except a `max-age` reason's
 * growing age, see above). Only `[A-Za-z0-9-]` characters, so it fits an execution name.
 */
export function fingerprintOf(reasons: readonly DriftReason[]): string {
  const canonical = JSON.stringify([...reasons].sort(compareReasons).map(identityOf));
  const digest = createHash('sha256').update(canonical, 'utf8').digest('hex').slice(0, DIGEST_HEX_LENGTH);
  return `v${FINGERPRINT_HASH_VERSION}-${digest}`;
}
