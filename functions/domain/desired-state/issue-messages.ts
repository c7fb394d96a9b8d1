/**
 * Turns zod's issues into sentences an operator can act on: what was expected, what was
 * found, and a likely fix ("did you mean …?", "quote it").
 */
import { z } from 'zod';
import { closestMatch } from './suggest';

/** What an issue says, before the path and position are added. */
export interface IssueText {
  /** "expected a whole number of at least 1". */
  expected: string;
  /** What was found ("0", "the string \"two\""), when there was something to find. */
  actual?: string;
  /** A likely fix. */
  hint?: string;
}

const MAX_SHOWN = 60;

/** A value as the message shows it: strings quoted (and cut when long), collections by kind. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    const cut = value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value;
    return JSON.stringify(cut);
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  return String(value);
}

/** The kind of a value, for "expected a string, got the number 3". */
function showWithKind(value: unknown): string {
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (typeof value === 'string') return `the string ${show(value)}`;
  return show(value);
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function showLiteral(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/** The schema beneath optional/default wrappers. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

/** The schema that validates the value at `path` beneath `root`, if the path is a known one. */
export function schemaAt(root: z.ZodType, path: readonly (string | number)[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrapSchema(root);
  for (const segment of path) {
    if (current instanceof z.ZodObject) {
      const shape = current.shape as Record<string, z.ZodType | undefined>;
      current = Object.hasOwn(shape, String(segment)) ? shape[String(segment)] : undefined;
    } else if (current instanceof z.ZodRecord) {
      current = current.valueType as z.ZodType;
    } else if (current instanceof z.ZodArray) {
      current = current.element as z.ZodType;
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
    current = unwrapSchema(current);
  }
  return current;
}

/** A record schema's key and value schemas (a map whose keys are data: fleet names, tag keys). */
export function recordParts(schema: z.ZodType | undefined): { key: z.ZodType; value: z.ZodType } | undefined {
  return schema instanceof z.ZodRecord
    ? { key: schema.keyType as z.ZodType, value: schema.valueType as z.ZodType }
    : undefined;
}

/** The keys an object schema knows, for "unknown key" messages. */
export function knownKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape as object) : [];
}

function sizeText(origin: string, bound: number | bigint): string {
  if (origin === 'string') return `${bound} character${bound === 1 ? '' : 's'}`;
  if (origin === 'array') return `${bound} entr${bound === 1 ? 'y' : 'ies'}`;
  return String(bound);
}

function sizeOf(origin: string, input: unknown): string | undefined {
  if (origin === 'string' && typeof input === 'string') return sizeText('string', input.length);
  if (origin === 'array' && Array.isArray(input))
    return input.length === 0 ? 'none' : sizeText('array', input.length);
  return input === undefined ? undefined : show(input);
}

/** "a number from 0 to 100" when the schema has both bounds, for a range that reads as one. */
function numberRange(schema: z.ZodType | undefined): string | undefined {
  if (!(schema instanceof z.ZodNumber)) return undefined;
  const { minValue, maxValue } = schema;
  if (minValue === null || maxValue === null) return undefined;
  // zod's int() alone bounds to the safe-integer range, which is no range a person wrote.
  if (minValue <= Number.MIN_SAFE_INTEGER || maxValue >= Number.MAX_SAFE_INTEGER) return undefined;
  return `${schema.format === 'safeint' ? 'a whole number' : 'a number'} from ${minValue} to ${maxValue}`;
}

/**
 * The text of one zod issue. `schema` is the schema at the issue's path (for ranges);
 * messages written in the schema (regexes, refinements, unions) are used as they are.
 */
export function issueText(issue: z.core.$ZodIssue, schema: z.ZodType | undefined): IssueText {
  const input: unknown = issue.input;
  if (issue.message !== GENERATED) {
    // Written in the schema as "expected …" (see schema.ts), or a fallback from PARSE_MESSAGES.
    const text: IssueText = { expected: issue.message.replace(/^expected /, '') };
    if (input !== undefined) text.actual = showWithKind(input);
    return text;
  }
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeName(issue.expected);
      if (input === undefined) return { expected };
      const text: IssueText = { expected, actual: showWithKind(input) };
      if (issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
        text.hint = `quote it to make it a string: "${String(input)}"`;
      }
      return text;
    }
    case 'too_small': {
      const range = numberRange(schema);
      if (range !== undefined) return { expected: range, actual: show(input) };
      if (issue.origin === 'string' && Number(issue.minimum) === 1) {
        return { expected: 'a non-empty string', actual: show(input) };
      }
      const bound = `${issue.inclusive === false ? 'more than' : 'at least'} ${sizeText(issue.origin, issue.minimum)}`;
      const kind = issue.origin === 'int' || schemaIsInt(schema) ? 'a whole number of ' : '';
      return { expected: `${kind}${bound}`, actual: sizeOf(issue.origin, input) };
    }
    case 'too_big': {
      const range = numberRange(schema);
      if (range !== undefined) return { expected: range, actual: show(input) };
      const bound = `${issue.inclusive === false ? 'less than' : 'at most'} ${sizeText(issue.origin, issue.maximum)}`;
      return { expected: bound, actual: sizeOf(issue.origin, input) };
    }
    case 'invalid_value': {
      const values = issue.values.map(showLiteral);
      const expected = values.length === 1 ? `${values[0]}` : `one of ${values.join(', ')}`;
      const text: IssueText = { expected };
      if (input !== undefined) text.actual = showWithKind(input);
      const suggestion = typeof input === 'string' ? closestMatch(input, values) : undefined;
      if (suggestion !== undefined) text.hint = `did you mean ${suggestion}?`;
      return text;
    }
    case 'not_multiple_of':
      return { expected: `a multiple of ${String(issue.divisor)}`, actual: show(input) };
    default:
      return { expected: 'a valid value', actual: show(input) };
  }
}

function schemaIsInt(schema: z.ZodType | undefined): boolean {
  return schema instanceof z.ZodNumber && schema.format === 'safeint';
}

/** Marks an issue whose schema wrote no message: {@link issueText} builds one from its data. */
const GENERATED = '\u0000generated';

/**
 * The parse-time error map: messages for the few codes whose data cannot make a sentence
 * (their schemas normally carry one), a marker for the rest. Schema messages win over it.
 */
export const PARSE_MESSAGES: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_format') {
    return issue.format === 'regex' && issue.pattern !== undefined
      ? `expected a string matching ${issue.pattern}`
      : `expected a string in the ${issue.format} format`;
  }
  if (issue.code === 'invalid_union') return 'expected a value of one of the allowed forms';
  if (issue.code === 'custom') return 'expected a valid value';
  return GENERATED;
};
