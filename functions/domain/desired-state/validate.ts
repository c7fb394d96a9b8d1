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
 *    by name or id, real time zones, window ranges that neither overlap nor are empty
 *    (`cross-field-checks.ts`, its rollout rules in `rollout-checks.ts`).
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { checkAcrossFields } from './cross-field-checks';
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
import type { Problem } from './problem';
import { type DesiredStateFile, DesiredStateFileSchema } from './schema';
import {
  keyText,
  offsetOfKey,
  offsetOfValue,
  type PathSegment,
  pathText,
  resolvePath,
  unalias,
} from './source-map';
import { closestMatch } from './suggest';

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
