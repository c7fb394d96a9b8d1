/**
 * Validation for code that runs in a Lambda bundle: zod/mini schemas, and messages in
 * Phoenix's own words.
 *
 * Why zod/mini: classic zod's schemas carry every method (and JSON Schema generation), so a
 * single `import * as z from 'zod'` puts about 100 KB into a bundle whatever the code
 * uses; zod/mini's functions are tree-shaken to what the schemas call.
 *
 * Why our own words: zod/mini loads no locale, so without one an issue's message is just
 * "Invalid input"; and classic zod installs its English locale globally the first time it
 * builds a schema, so what a message says would otherwise depend on what else the process
 * imported (the CLI, a test file). {@link validate} passes {@link issueMessage} as the
 * parse's error map: it ranks below a schema's own message (`z.minLength(1, 'is empty')`)
 * and above any locale, so the same input gives the same message everywhere.
 *
 * Messages are predicates on the field, written to follow its path: "`resourceId` is
 * missing", "`tags.Owner` is a number, not a string". Custom messages in schemas should
 * read the same way ("is not an SNS topic ARN").
 */
import * as z from 'zod/mini';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** The outcome of {@link validate}: the parsed value, or every problem in one sentence. */
export type Validated<T> = { ok: true; value: T } | { ok: false; problem: string; issues: Issue[] };

/**
 * Parses `input` with `schema`, every issue worded by {@link issueMessage} unless the schema
 * says otherwise. `prefix` is put before every path (`configuration` →
 * `configuration.imageId is missing`), for a value that sits inside a larger one.
 */
export function validate<S extends z.core.$ZodType>(
  schema: S,
  input: unknown,
  prefix = '',
): Validated<z.output<S>> {
  const parsed = z.safeParse(schema, input, { error: issueMessage });
  if (parsed.success) return { ok: true, value: parsed.data };
  const { issues } = parsed.error;
  return { ok: false, problem: describeIssues(issues, prefix), issues };
}

/** Every issue as `path message`, joined with `; `. An issue at the root speaks of "the value". */
export function describeIssues(issues: readonly Issue[], prefix = ''): string {
  return issues.map((issue) => `${pathOf(issue.path, prefix) || 'the value'} ${issue.message}`).join('; ');
}

/** `securityGroups[0].groupId`: dots between names, brackets around indexes. */
export function pathOf(path: readonly PropertyKey[], prefix = ''): string {
  let joined = prefix;
  for (const part of path) {
    if (typeof part === 'number') joined += `[${part}]`;
    else joined += joined === '' ? String(part) : `.${String(part)}`;
  }
  return joined;
}

/**
 * The message for an issue that has none of its own, as a predicate on the field
 * ("is missing", "is null, not an object"). A zod error map: pass it as the `error` parse
 * option (as {@link validate} does).
 */
export function issueMessage(issue: RawIssue): string {
  const { input } = issue;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is missing';
      if (issue.expected === 'int') return `is ${shown(input)}, not a whole number`;
      return `is ${kindOf(input)}, not ${withArticle(issue.expected)}`;
    case 'invalid_value':
      if (input === undefined) return 'is missing';
      return `is ${shown(input)}, not ${oneOf(issue.values)}`;
    case 'invalid_union': {
      if (input === undefined) return 'is missing';
      if (issue.discriminator === undefined || !isRecord(input)) return noneMatched(issue.errors, input);
      const tag = input[issue.discriminator];
      if (tag === undefined) return 'is missing';
      return `is ${shown(tag)}, not ${oneOf(Array.isArray(issue.options) ? issue.options : [])}`;
    }
    case 'too_small':
      return tooSmall(issue.origin, issue.minimum, issue.inclusive !== false, issue.exact === true, input);
    case 'too_big':
      return tooBig(issue.origin, issue.maximum, issue.inclusive !== false, issue.exact === true, input);
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern !== undefined) {
        return `is ${shown(input)}, which does not match ${issue.pattern}`;
      }
      return `is ${shown(input)}, not a valid ${issue.format}`;
    case 'not_multiple_of':
      return `is ${shown(input)}, not a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `has unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_key':
      return `has a key that is not allowed (${issue.issues.map((i) => i.message).join('; ')})`;
    case 'invalid_element':
      return `has an element that is not allowed (${issue.issues.map((i) => i.message).join('; ')})`;
    default:
      return 'is not valid';
  }
}

/** A union none of whose options took the value: "is a boolean, not a string or a number" where it can tell. */
function noneMatched(errors: unknown, input: unknown): string {
  const expected: string[] = [];
  const options: unknown[] = Array.isArray(errors) ? errors : [];
  for (const option of options) {
    const optionIssues: readonly Issue[] = Array.isArray(option) ? option : [];
    const [only] = optionIssues;
    if (optionIssues.length !== 1 || only?.code !== 'invalid_type' || only.path.length > 0) {
      return 'matches none of the accepted shapes';
    }
    expected.push(withArticle(only.expected));
  }
  return `is ${kindOf(input)}, not ${expected.join(' or ')}`;
}

function tooSmall(
  origin: string,
  limit: number | bigint,
  inclusive: boolean,
  exact: boolean,
  input: unknown,
) {
  switch (origin) {
    case 'string':
      if (exact) return `must be exactly ${limit} characters long`;
      return Number(limit) <= 1 && inclusive ? 'is empty' : `is shorter than ${limit} characters`;
    case 'array':
    case 'set':
      if (exact) return `must hold exactly ${limit} items`;
      return Number(limit) <= 1 && inclusive ? 'is empty' : `holds fewer than ${limit} items`;
    default:
      return `is ${shown(input)}, ${inclusive ? 'below the minimum of' : 'must be more than'} ${limit}`;
  }
}

function tooBig(origin: string, limit: number | bigint, inclusive: boolean, exact: boolean, input: unknown) {
  switch (origin) {
    case 'string':
      return exact ? `must be exactly ${limit} characters long` : `is longer than ${limit} characters`;
    case 'array':
    case 'set':
      return exact ? `must hold exactly ${limit} items` : `holds more than ${limit} items`;
    default:
      return `is ${shown(input)}, ${inclusive ? 'above the maximum of' : 'must be less than'} ${limit}`;
  }
}

/**
 * An object whose keys are data (tag keys) and whose values are strings. Checked like
 * `z.record(z.string(), z.string())`, with the same messages (`tags.Owner is a number, not a
 * string`), but the input itself is the output: zod's record drops an own `__proto__` key
 * (assigning it would replace the result's prototype), and `__proto__` is a tag key EC2
 * allows, which Phoenix must see to judge it.
 */
export const StringMap = z
  .custom<Record<string, string>>((value) => isRecord(value), {
    error: (issue) => `is ${kindOf(issue.input)}, not an object`,
  })
  .check(
    z.superRefine((value, ctx) => {
      for (const [key, item] of Object.entries(value)) {
        if (typeof item !== 'string') {
          ctx.issues.push({ code: 'invalid_type', expected: 'string', input: item, path: [key] });
        }
      }
    }),
  );

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a value is, for "is X, not Y": `null`, `an array`, `a number`… */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return withArticle(typeof value);
}

function withArticle(noun: string): string {
  if (noun === 'null' || noun === 'undefined') return noun;
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** A value quoted for a message: primitives as JSON (long strings cut), anything else by kind. */
function shown(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return kindOf(value);
}

function oneOf(values: readonly unknown[]): string {
  const [only] = values;
  if (values.length === 1) return shown(only);
  return `one of ${values.map(shown).join(', ')}`;
}
