/**
 * The rollout checks that span fleets, on the source tree so duplicates are judged too: an
 * alarm listed once per `rollout.alarms`, and promotion (`rollout.after`) that names another
 * declared fleet and never comes back to where it started. Called by `cross-field-checks.ts`;
 * the rollout rules still to come (waves, bake, approval) belong beside these.
 */
import { type Document, isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import type { Problem } from './problem';
import { lastPair, type PathSegment, pathText, unalias, valueOffset } from './source-map';
import { closestMatch } from './suggest';

/** A fleet's `rollout.after` (or the default one), where it is written. */
export interface RolloutAfter {
  /** The fleet it belongs to; undefined for `defaults.rollout.after`. */
  fleet?: string;
  after: string;
  path: PathSegment[];
  offset: number;
}

export function rolloutAfterOf(
  doc: Document,
  owner: YAMLMap,
  ownerPath: readonly PathSegment[],
): RolloutAfter | undefined {
  const rollout = unalias(lastPair(owner, 'rollout')?.value, doc);
  if (!isMap(rollout)) return undefined;
  const pair = lastPair(rollout, 'after');
  const value = unalias(pair?.value, doc);
  if (pair === undefined || !isScalar(value) || typeof value.value !== 'string') return undefined;
  return { after: value.value, path: [...ownerPath, 'rollout', 'after'], offset: valueOffset(pair) ?? 0 };
}

/** An alarm listed twice in one `rollout.alarms` is a mistake worth saying, not a gate twice. */
export function checkAlarmsUnique(
  doc: Document,
  owner: YAMLMap,
  ownerPath: readonly PathSegment[],
  problems: Problem[],
): void {
  const rollout = unalias(lastPair(owner, 'rollout')?.value, doc);
  if (!isMap(rollout)) return;
  const alarms = unalias(lastPair(rollout, 'alarms')?.value, doc);
  if (!isSeq(alarms)) return;
  const seen = new Set<string>();
  alarms.items.forEach((item, index) => {
    const node = unalias(item, doc);
    if (!isScalar(node) || typeof node.value !== 'string') return;
    if (seen.has(node.value)) {
      problems.push({
        offset: node.range?.[0] ?? 0,
        message: `${pathText([...ownerPath, 'rollout', 'alarms', index])}: alarm "${node.value}" is listed twice: expected each alarm once`,
      });
    }
    seen.add(node.value);
  });
}

/**
 * Promotion (`rollout.after`) names another declared fleet, and the chain never comes back:
 * a cycle would leave every fleet in it waiting for the others forever.
 */
export function checkPromotions(
  fleetNames: readonly string[],
  afters: readonly RolloutAfter[],
  defaultAfter: RolloutAfter | undefined,
  problems: Problem[],
): void {
  const declared = new Set(fleetNames);
  const unknown = (entry: RolloutAfter): string => {
    const suggestion = closestMatch(entry.after, fleetNames);
    return `${pathText(entry.path)}: expected the name of another declared fleet, got "${entry.after}"${
      suggestion === undefined ? '' : `; did you mean "${suggestion}"?`
    }`;
  };
  if (defaultAfter !== undefined && !declared.has(defaultAfter.after)) {
    problems.push({ offset: defaultAfter.offset, message: unknown(defaultAfter) });
  }
  // Which fleet each one follows, as compiled: its own `after`, else the default one (never itself).
  const follows = new Map<string, RolloutAfter>();
  for (const name of fleetNames) {
    const own = afters.find((a) => a.fleet === name);
    const entry =
      own ?? (defaultAfter !== undefined && defaultAfter.after !== name ? defaultAfter : undefined);
    if (entry !== undefined) follows.set(name, entry);
  }
  for (const entry of afters) {
    if (entry.fleet === entry.after) {
      problems.push({
        offset: entry.offset,
        message: `${pathText(entry.path)}: a fleet cannot be promoted from itself: expected the name of another fleet`,
      });
    } else if (!declared.has(entry.after)) {
      problems.push({ offset: entry.offset, message: unknown(entry) });
    }
  }
  // Each cycle once, at the first of its fleets in file order.
  const reported = new Set<string>();
  for (const start of fleetNames) {
    const chain: string[] = [start];
    let next = follows.get(start)?.after;
    while (next !== undefined && declared.has(next) && next !== start && !chain.includes(next)) {
      chain.push(next);
      next = follows.get(next)?.after;
    }
    if (next !== start || chain.length < 2 || chain.some((f) => reported.has(f))) continue;
    for (const fleet of chain) reported.add(fleet);
    const entry = follows.get(start);
    if (entry === undefined) continue;
    problems.push({
      offset: entry.offset,
      message: `${pathText(entry.path)}: promotion goes round in a cycle (${[...chain, start].join(' → ')}): expected a chain that starts somewhere`,
    });
  }
}
