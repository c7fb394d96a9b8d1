/**
 * The third pass of `validate.ts`: rules that span fields or fleets, read from the source
 * tree so duplicates are judged too: one selector per fleet, a tag selector with a tag, one
 * fleet per selector, launch template by name or id, real time zones, window ranges that
 * neither overlap nor are empty, and the rollout checks of `rollout-checks.ts`.
 */
import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node, type YAMLMap } from 'yaml';
import { show } from './issue-messages';
import type { Problem } from './problem';
import { checkAlarmsUnique, checkPromotions, type RolloutAfter, rolloutAfterOf } from './rollout-checks';
import { WINDOW_RANGE_PATTERN } from './schema';
import {
  keyText,
  lastPair,
  type PathSegment,
  pairsNamed,
  pathText,
  unalias,
  valueOffset,
} from './source-map';
import { closestMatch } from './suggest';
import { findWindowOverlaps, parseWindowRange } from './windows';

/** Rules that span fields or fleets. They read the source tree so duplicates are judged too. */
export function checkAcrossFields(doc: Document, lineCounter: LineCounter, problems: Problem[]): void {
  const root = unalias(doc.contents, doc);
  if (!isMap(root)) return;
  for (const defaultsPair of pairsNamed(root, 'defaults')) {
    const defaults = unalias(defaultsPair.value, doc);
    if (isMap(defaults)) checkWindows(doc, defaults, ['defaults'], problems);
  }
  const selectedGroups = new Map<string, { fleet: string; offset: number }>();
  const selectedTags = new Map<string, { fleet: string; offset: number }>();
  const fleetNames: string[] = [];
  const afters: RolloutAfter[] = [];
  let defaultAfter: RolloutAfter | undefined;
  for (const defaultsPair of pairsNamed(root, 'defaults')) {
    const defaults = unalias(defaultsPair.value, doc);
    if (!isMap(defaults)) continue;
    checkAlarmsUnique(doc, defaults, ['defaults'], problems);
    defaultAfter = rolloutAfterOf(doc, defaults, ['defaults']) ?? defaultAfter;
  }
  for (const fleetsPair of pairsNamed(root, 'fleets')) {
    const fleets = unalias(fleetsPair.value, doc);
    if (!isMap(fleets)) continue;
    for (const fleetPair of fleets.items) {
      const name = keyText(fleetPair);
      const fleet = unalias(fleetPair.value, doc);
      if (name === undefined || !isMap(fleet)) continue;
      fleetNames.push(name);
      const path: PathSegment[] = ['fleets', name];
      checkExactlyOne(doc, fleet, path, 'match', ['autoScalingGroup', 'tags'], problems);
      checkExactlyOne(doc, fleet, path, 'launchTemplate', ['name', 'id'], problems);
      checkWindows(doc, fleet, path, problems);
      checkSelectorUnique(doc, lineCounter, fleet, name, { selectedGroups, selectedTags }, problems);
      checkAlarmsUnique(doc, fleet, path, problems);
      const after = rolloutAfterOf(doc, fleet, path);
      if (after !== undefined) afters.push({ ...after, fleet: name });
    }
  }
  checkPromotions(fleetNames, afters, defaultAfter, problems);
}

/** `match` needs exactly one selector; `launchTemplate` exactly one of name or id. */
function checkExactlyOne(
  doc: Document,
  parent: YAMLMap,
  parentPath: readonly PathSegment[],
  key: string,
  choices: readonly [string, string],
  problems: Problem[],
): void {
  for (const pair of pairsNamed(parent, key)) {
    const value = unalias(pair.value, doc);
    if (!isMap(value)) continue; // not a mapping: the schema says so
    const present = choices.filter((choice) => pairsNamed(value, choice).length > 0);
    if (present.length === 1) continue;
    problems.push({
      offset: isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0,
      message: `${pathText([...parentPath, key])}: expected exactly one of ${choices[0]} or ${choices[1]}, got ${
        present.length === 0 ? 'neither' : 'both'
      }`,
    });
  }
}

/** An instance belongs to one fleet: no two fleets may name the same group or the same tag selector. */
function checkSelectorUnique(
  doc: Document,
  lineCounter: LineCounter,
  fleet: YAMLMap,
  name: string,
  seen: {
    selectedGroups: Map<string, { fleet: string; offset: number }>;
    selectedTags: Map<string, { fleet: string; offset: number }>;
  },
  problems: Problem[],
): void {
  const match = unalias(lastPair(fleet, 'match')?.value, doc);
  if (!isMap(match)) return;
  const groupPair = lastPair(match, 'autoScalingGroup');
  const tagsPair = lastPair(match, 'tags');
  const tagsNode = unalias(tagsPair?.value, doc);
  if (tagsPair !== undefined && isMap(tagsNode) && tagsNode.items.length === 0) {
    problems.push({
      offset: valueOffset(tagsPair) ?? 0,
      message: `fleets.${name}.match.tags: expected at least one tag (an empty selector would match every instance), got an empty mapping`,
    });
  }
  if (groupPair !== undefined && tagsPair !== undefined) return; // reported as "both"
  const record = (
    selected: Map<string, { fleet: string; offset: number }>,
    selector: string,
    offset: number,
    describe: string,
    field: string,
  ): void => {
    const earlier = selected.get(selector);
    if (earlier === undefined) {
      selected.set(selector, { fleet: name, offset });
    } else if (earlier.fleet !== name) {
      const line = lineCounter.linePos(earlier.offset).line;
      problems.push({
        offset,
        message: `fleets.${name}.match.${field}: ${describe} is already selected by fleet "${earlier.fleet}" (line ${line}): expected each instance to belong to one fleet`,
      });
    }
  };
  if (groupPair !== undefined) {
    const group = unalias(groupPair.value, doc);
    if (isScalar(group) && typeof group.value === 'string' && group.value !== '') {
      record(
        seen.selectedGroups,
        group.value,
        valueOffset(groupPair) ?? 0,
        `Auto Scaling group "${group.value}"`,
        'autoScalingGroup',
      );
    }
  }
  if (tagsPair !== undefined) {
    const tags = unalias(tagsPair.value, doc);
    if (!isMap(tags)) return;
    const data: unknown = tags.toJS(doc);
    if (data === null || typeof data !== 'object') return;
    const entries = Object.entries(data as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    if (entries.length === 0) return;
    const selector = JSON.stringify(entries);
    const keyOffset = isScalar(tagsPair.key) ? (tagsPair.key.range?.[0] ?? 0) : 0;
    const shown = entries.map(([key, value]) => `${key}=${String(value)}`).join(', ');
    record(seen.selectedTags, selector, keyOffset, `the tag selector {${shown}}`, 'tags');
  }
}

/** Time zone is a real IANA zone; ranges are not empty and do not overlap. */
function checkWindows(
  doc: Document,
  owner: YAMLMap,
  ownerPath: readonly PathSegment[],
  problems: Problem[],
): void {
  for (const windowPair of pairsNamed(owner, 'window')) {
    const window = unalias(windowPair.value, doc);
    if (!isMap(window)) continue;
    const path = [...ownerPath, 'window'];
    for (const zonePair of pairsNamed(window, 'timezone')) {
      const zone = unalias(zonePair.value, doc);
      if (!isScalar(zone) || typeof zone.value !== 'string' || zone.value === '') continue;
      if (isTimeZone(zone.value)) continue;
      const suggestion = closestMatch(zone.value, timeZoneNames());
      problems.push({
        offset: valueOffset(zonePair) ?? 0,
        message: `${pathText([...path, 'timezone'])}: expected an IANA time zone such as Europe/Berlin or UTC, got ${show(zone.value)}${
          suggestion === undefined ? '' : `; did you mean ${suggestion}?`
        }`,
      });
    }
    for (const allowPair of pairsNamed(window, 'allow')) {
      const allow = unalias(allowPair.value, doc);
      if (!isSeq(allow)) continue;
      const specs = allow.items.map((item, index) => {
        const node = unalias(item, doc);
        // Text that does not even look like a range is the schema's to report.
        if (!isScalar(node) || typeof node.value !== 'string' || !WINDOW_RANGE_PATTERN.test(node.value)) {
          return undefined;
        }
        const parsed = parseWindowRange(node.value);
        if (parsed.ok) return parsed.range;
        problems.push({
          offset: startOfNode(node),
          message: `${pathText([...path, 'allow', index])}: ${parsed.message}`,
        });
        return undefined;
      });
      for (const overlap of findWindowOverlaps(specs)) {
        const later = unalias(allow.items[overlap.later], doc);
        const earlier = specs[overlap.earlier];
        const laterSpec = specs[overlap.later];
        if (later === null || earlier === undefined || laterSpec === undefined) continue;
        problems.push({
          offset: startOfNode(later),
          message: `${pathText([...path, 'allow', overlap.later])}: "${laterSpec.text}" overlaps allow[${overlap.earlier}] "${earlier.text}" (${overlap.during}): expected ranges that do not overlap`,
        });
      }
    }
  }
}

function startOfNode(node: Node): number {
  return node.range?.[0] ?? 0;
}

/** Intl throws a RangeError for a zone it does not know; that is the test (no clock, no I/O). */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

let zoneNames: readonly string[] | undefined;
function timeZoneNames(): readonly string[] {
  zoneNames ??= [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  return zoneNames;
}
