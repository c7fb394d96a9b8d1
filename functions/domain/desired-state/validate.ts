/**
 * Reads `phoenix.yaml` text into a {@link DesiredStateFile}, or reports every problem in it
 * at once, each with the file, line and column of the offending key or value and what was
 * expected there.
 *
 * First, a text nested deeper than any desired state is refused at its first too-deep
 * collection (see `nesting.ts`). Then three passes, each over the whole file so one problem
 * never hides another:
 * 1. YAML syntax (if the text is not YAML, nothing else is trustworthy, so stop there);
 * 2. the zod schema, on the data as YAML reads it (last key wins) and again on every value
 *    a duplicate key shadowed or an invalid key made zod skip;
 * 3. rules across fields: one selector per fleet, a tag selector with a tag, one fleet per selector, launch template
 *    by name or id, real time zones, window ranges that neither overlap nor are empty.
 */
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLMap,
} from 'yaml';
import type { z } from 'zod';
import {
  type IssueText,
  issueText,
  knownKeys,
  PARSE_MESSAGES,
  recordParts,
  schemaAt,
  show,
} from './issue-messages';
import { firstTooDeep, MAX_NESTING } from './nesting';
import { type DesiredStateFile, DesiredStateFileSchema, WINDOW_RANGE_PATTERN } from './schema';
import {
  keyText,
  lastPair,
  offsetOfKey,
  offsetOfValue,
  type PathSegment,
  pairsNamed,
  pathText,
  resolvePath,
  unalias,
  valueOffset,
} from './source-map';
import { closestMatch } from './suggest';
import { findWindowOverlaps, parseWindowRange } from './windows';

/** One problem in a desired-state file. `line` and `column` are 1-based. */
export interface ValidationIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

export type ParseResult = { ok: true; value: DesiredStateFile } | { ok: false; issues: ValidationIssue[] };

/** `phoenix.yaml:7:22 fleets.web.budget.maxConcurrent: expected …` (the form editors and CI link). */
export function formatIssue(issue: ValidationIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.message}`;
}

/** A problem before its offset becomes a line and column. */
interface Problem {
  offset: number;
  message: string;
}

/** One value to check against one schema: the whole file, or a value the first pass could not see. */
interface Unit {
  schema: z.ZodType;
  /** Where the value is written (positions of its issues are resolved from here). */
  node: unknown;
  /** Its path from the top of the file (for messages and for finding its schema). */
  path: PathSegment[];
}

/**
 * Parses and validates a desired-state file. `file` is only used in the issues (pass the
 * path as the user typed it, so `file:line:col` is clickable).
 */
export function parseDesiredState(text: string, file: string): ParseResult {
  // First, without recursing: every later pass recurses once per level of nesting.
  const depthLines = new LineCounter();
  const tooDeep = firstTooDeep(text, MAX_NESTING, depthLines.addNewLine);
  if (tooDeep !== undefined) {
    const message = `nested too deeply: more than ${MAX_NESTING} levels of mappings and lists (a desired state needs 5 at most)`;
    return { ok: false, issues: toIssues([{ offset: tooDeep, message }], file, depthLines) };
  }

  const lineCounter = new LineCounter();
  // Duplicate keys are found below, with the line of the first occurrence in the message.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const problems: Problem[] = [];

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      problems.push({ offset: error.pos[0], message: `YAML syntax error: ${yamlErrorText(error.message)}` });
    }
    return { ok: false, issues: toIssues(problems, file, lineCounter) };
  }

  const shadowed = findDuplicateKeys(doc, lineCounter, problems);
  const protoKeys = findProtoKeys(doc, problems);
  let value: DesiredStateFile | undefined;
  const units: Unit[] = [
    { schema: DesiredStateFileSchema, node: doc.contents, path: [] },
    ...shadowed,
    ...protoKeys.map((entry) => entry.unit),
  ];
  let readable = true;
  for (let index = 0; index < units.length; index += 1) {
    const unit = units[index];
    if (unit === undefined) continue;
    const data = toData(doc, unit.node, problems);
    if (data === TOO_MANY_ALIASES) {
      readable = false;
      continue;
    }
    const result = unit.schema.safeParse(data, { reportInput: true, error: PARSE_MESSAGES });
    if (result.success) {
      if (index === 0) value = result.data as DesiredStateFile;
      continue;
    }
    for (const issue of result.error.issues) {
      units.push(...reportZodIssue(doc, unit, issue, data, problems));
    }
  }

  if (readable) checkAcrossFields(doc, lineCounter, problems);

  if (problems.length > 0 || value === undefined) {
    return { ok: false, issues: toIssues(problems, file, lineCounter) };
  }
  for (const entry of protoKeys) restoreProtoKey(value, entry.unit, entry.data);
  return { ok: true, value };
}

/** The key JavaScript's object literals and zod's records treat as the prototype, not as data. */
const PROTO = '__proto__';

/** A `__proto__` key in a record of the file: its value, checked as a unit of its own. */
interface ProtoKey {
  unit: Unit;
  data: unknown;
}

/**
 * Finds every `__proto__` key written where the schema has a record (fleet names, tag keys).
 * zod drops such a key silently (assigning it would replace the result's prototype), so a
 * fleet named `__proto__` vanished and a declared tag `__proto__: x` was never enforced. An
 * invalid key (`__proto__` is no fleet name) is reported here at its position; a valid one
 * (a tag key: EC2 allows it) is returned, for its value to be checked like any other and put
 * back into the parsed value as an own property. Keys under a strict object are zod's to
 * report ("unknown key"), as it does.
 */
function findProtoKeys(doc: Document, problems: Problem[]): ProtoKey[] {
  let root: unknown;
  try {
    root = unalias(doc.contents, doc)?.toJS(doc);
  } catch {
    return []; // aliases that expand too far: reported by the schema pass
  }
  const found: ProtoKey[] = [];
  const pending: Array<{ data: unknown; path: PathSegment[] }> = [{ data: root, path: [] }];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === undefined || next.data === null || typeof next.data !== 'object') continue;
    const { data, path } = next;
    if (Array.isArray(data)) {
      data.forEach((item, index) => {
        pending.push({ data: item, path: [...path, index] });
      });
      continue;
    }
    for (const [key, item] of Object.entries(data)) {
      if (key !== PROTO) {
        pending.push({ data: item, path: [...path, key] });
        continue;
      }
      const record = recordParts(schemaAt(DesiredStateFileSchema, path));
      if (record === undefined) continue;
      const keyCheck = record.key.safeParse(key, { error: PARSE_MESSAGES });
      if (!keyCheck.success) {
        for (const inner of keyCheck.error.issues) {
          problems.push({
            offset: offsetOfKey(doc, doc.contents, [...path, key]),
            message: `${pathText(path)}: invalid key ${show(key)}: expected ${issueText(inner, undefined).expected}`,
          });
        }
        continue;
      }
      const node = resolvePath(doc, doc.contents, [...path, key]).node;
      found.push({ unit: { schema: record.value, node, path: [...path, key] }, data: item });
    }
  }
  return found;
}

/** Puts a checked `__proto__` entry back where zod dropped it, as an own data property. */
function restoreProtoKey(value: DesiredStateFile, unit: Unit, data: unknown): void {
  const parsed = unit.schema.safeParse(data);
  if (!parsed.success) return; // reported with the other problems
  let target: unknown = value;
  for (const segment of unit.path.slice(0, -1)) {
    if (target === null || typeof target !== 'object' || !Object.hasOwn(target, segment)) return;
    target = (target as Record<PathSegment, unknown>)[segment];
  }
  if (target === null || typeof target !== 'object') return;
  Object.defineProperty(target, PROTO, {
    value: parsed.data,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** yaml's messages end with " at line L, column C:" and a source excerpt; we give the position ourselves. */
function yamlErrorText(message: string): string {
  return message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
}

const TOO_MANY_ALIASES = Symbol('too many aliases');

function toData(doc: Document, node: unknown, problems: Problem[]): unknown {
  const resolved = unalias(node, doc);
  try {
    return resolved === null ? (node === doc.contents ? null : undefined) : resolved.toJS(doc);
  } catch (error) {
    // yaml refuses alias bombs ("billion laughs"); say so instead of failing.
    const why = error instanceof Error ? error.message : String(error);
    problems.push({ offset: resolved?.range?.[0] ?? 0, message: `YAML aliases expand too far: ${why}` });
    return TOO_MANY_ALIASES;
  }
}

function toIssues(problems: readonly Problem[], file: string, lineCounter: LineCounter): ValidationIssue[] {
  const sorted = [...problems].sort((a, b) => a.offset - b.offset || a.message.localeCompare(b.message));
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const problem of sorted) {
    const key = `${problem.offset}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { line, col } = lineCounter.linePos(problem.offset);
    issues.push({ file, line, column: col, message: problem.message });
  }
  return issues;
}

function sentence(path: readonly PathSegment[], text: IssueText): string {
  const found = text.actual === undefined ? '' : `, got ${text.actual}`;
  const hint = text.hint === undefined ? '' : `; ${text.hint}`;
  const body = `expected ${text.expected}${found}${hint}`;
  return path.length === 0 ? body : `${pathText(path)}: ${body}`;
}

/** Records one zod issue; returns the further units it calls for (values zod skipped). */
function reportZodIssue(
  doc: Document,
  unit: Unit,
  issue: z.core.$ZodIssue,
  data: unknown,
  problems: Problem[],
): Unit[] {
  const relative = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  const path = [...unit.path, ...relative];

  if (issue.code === 'unrecognized_keys') {
    const allowed = knownKeys(schemaAt(DesiredStateFileSchema, path));
    for (const key of issue.keys) {
      const suggestion = closestMatch(key, allowed);
      const fix =
        key === '<<'
          ? 'YAML merge keys are not supported: repeat the keys, or anchor (&) and alias (*) a whole value'
          : suggestion !== undefined
            ? `did you mean "${suggestion}"?`
            : `expected one of: ${allowed.join(', ')}`;
      const where = path.length === 0 ? '' : `${pathText(path)}: `;
      problems.push({
        offset: offsetOfKey(doc, unit.node, [...relative, key]),
        message: `${where}unknown key "${key}"; ${fix}`,
      });
    }
    return [];
  }

  if (issue.code === 'invalid_key') {
    const key = relative.at(-1);
    const recordPath = path.slice(0, -1);
    for (const inner of issue.issues) {
      const text = issueText(inner, undefined);
      problems.push({
        offset: offsetOfKey(doc, unit.node, relative),
        message: `${pathText(recordPath)}: invalid key ${show(String(key))}: expected ${text.expected}${
          inner.code === 'too_big' || inner.code === 'too_small' ? `, got ${text.actual}` : ''
        }`,
      });
    }
    // zod skips the value of an invalid key; check it on its own so its problems show too.
    const schema = schemaAt(DesiredStateFileSchema, path);
    const found = resolvePath(doc, unit.node, relative);
    return schema === undefined || found.found < relative.length ? [] : [{ schema, node: found.node, path }];
  }

  const found = resolvePath(doc, unit.node, relative);
  const missing = issue.input === undefined && found.found === relative.length - 1 && !hasKey(data, relative);
  const text = issueText(issue, schemaAt(DesiredStateFileSchema, path));
  if (missing) {
    const parent = path.slice(0, -1);
    const key = String(path.at(-1));
    const where = parent.length === 0 ? '' : `${pathText(parent)}: `;
    problems.push({
      offset: offsetOfKey(doc, unit.node, relative.slice(0, -1)),
      message: `${where}missing required key "${key}" (expected ${text.expected})`,
    });
    return [];
  }
  if (path.length === 0 && data === null) {
    problems.push({ offset: 0, message: 'the file is empty: expected a mapping with version: 1 and fleets' });
    return [];
  }
  problems.push({ offset: offsetOfValue(doc, unit.node, relative), message: sentence(path, text) });
  return [];
}

/** Whether the data has the key at `path` (present with any value, even null). */
function hasKey(data: unknown, path: readonly PathSegment[]): boolean {
  let current: unknown = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return false;
    current = (current as Record<string, unknown>)[segment];
  }
  return true;
}

/**
 * Reports every key written twice in one mapping (YAML keeps the last, silently); returns
 * the shadowed values as units so their own problems are reported too.
 */
function findDuplicateKeys(doc: Document, lineCounter: LineCounter, problems: Problem[]): Unit[] {
  const shadowed: Unit[] = [];
  const visit = (node: unknown, path: PathSegment[]): void => {
    // Aliases are not followed: the anchored node is visited where it is written.
    if (isSeq(node)) {
      node.items.forEach((item, index) => {
        visit(item, [...path, index]);
      });
      return;
    }
    if (!isMap(node)) return;
    const firstSeen = new Map<string, number>();
    const lastIndex = new Map<string, number>();
    node.items.forEach((pair, index) => {
      const key = keyText(pair);
      if (key !== undefined) lastIndex.set(key, index);
    });
    node.items.forEach((pair, index) => {
      const key = keyText(pair);
      visit(pair.value, key === undefined ? path : [...path, key]);
      if (key === undefined) return;
      const keyStart = isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0;
      const first = firstSeen.get(key);
      if (first === undefined) {
        firstSeen.set(key, keyStart);
      } else {
        const line = lineCounter.linePos(first).line;
        const isFleet = path.length === 1 && path[0] === 'fleets';
        problems.push({
          offset: keyStart,
          message: isFleet
            ? `fleets: duplicate fleet name "${key}" (first declared at line ${line}): expected each fleet name once`
            : `${path.length === 0 ? '' : `${pathText(path)}: `}duplicate key "${key}" (first at line ${line}): expected each key once`,
        });
      }
      const schema = schemaAt(DesiredStateFileSchema, [...path, key]);
      if (lastIndex.get(key) !== index && schema !== undefined) {
        shadowed.push({ schema, node: pair.value, path: [...path, key] });
      }
    });
  };
  visit(doc.contents, []);
  return shadowed;
}

/** Rules that span fields or fleets. They read the source tree so duplicates are judged too. */
function checkAcrossFields(doc: Document, lineCounter: LineCounter, problems: Problem[]): void {
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

/** A fleet's `rollout.after` (or the default one), where it is written. */
interface RolloutAfter {
  /** The fleet it belongs to; undefined for `defaults.rollout.after`. */
  fleet?: string;
  after: string;
  path: PathSegment[];
  offset: number;
}

function rolloutAfterOf(
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
function checkAlarmsUnique(
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
function checkPromotions(
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
