/**
 * What every `phoenix` command does with its command line before its own work: read the
 * flags and check each value (a usage error or `--help` ends the command), turn `--region` /
 * `--endpoint` into client options, find the state table (`--table` or `$PHOENIX_TABLE_NAME`),
 * load the desired state. One place, so the commands cannot drift apart in how they read a
 * flag or word an error.
 *
 * Every problem is one line, `phoenix <command>: <what is wrong>`, printed before any AWS
 * client exists: a flag that cannot be right never reaches AWS. An empty value is always an
 * error (never "not given"): `--table "$TABLE"` with `$TABLE` unset must not quietly fall back
 * to another table.
 */
import type { ParseArgsConfig, parseArgs } from 'node:util';
import type { ClientOptions } from '../aws/clients';
import { describeAwsError } from '../aws/describe-error';
import { DesiredStateInvalidError } from '../domain/desired-state/errors';
import { FLEET_NAME_PATTERN } from '../domain/desired-state/schema';
import { closestMatch } from '../domain/desired-state/suggest';
import { formatIssue } from '../domain/desired-state/validate';
import { PhoenixError } from '../domain/errors';
import type { CompiledDesiredState } from '../domain/model';
import { loadDesiredStateFile } from '../io/desired-state-file';
import type { CliIo } from './io';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** `-h` / `--help`, which every command takes. */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** The flags of a command that talks to AWS: where its clients point. */
export const AWS_OPTIONS = {
  region: { type: 'string' },
  endpoint: { type: 'string' },
} as const;

/** `--format` for `phoenix plan`, which also speaks the pull request's markdown. */
export const PLAN_FORMAT_OPTION = {
  format: { type: 'string', choices: ['text', 'json', 'markdown'] },
} as const;

/** The flag naming Phoenix's state table (falls back to `$PHOENIX_TABLE_NAME`). */
export const STATE_TABLE_OPTION = { table: { type: 'string' } } as const;

/** The usage lines of {@link AWS_OPTIONS}, descriptions starting at `column`. */
export function awsOptionsUsage(column: number): string {
  return [
    `  ${'--region REGION'.padEnd(column - 2)}AWS region (default: the SDK configuration, e.g. $AWS_REGION)`,
    `  ${'--endpoint URL'.padEnd(column - 2)}AWS endpoint (default: $AWS_ENDPOINT_URL)`,
  ].join('\n');
}

/** What `parseArgs` would return for these options (strict, `--help` included). */
export type ParsedCommandLine<O extends OptionsConfig, P extends boolean> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof HELP_OPTION;
    allowPositionals: P;
    strict: true;
  }>
>;

// ---- values ---------------------------------------------------------------------------------

const MAX_SHOWN = 60;

/** A value as a message quotes it: JSON-escaped (one line, whatever it holds) and cut when long. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value);
}

/**
 * Checks one value; returns what is wrong with it, worded to follow the flag or variable
 * name ("must be …, not "x""), or undefined when it is fine.
 */
type ValueCheck = (value: string) => string | undefined;

const WHOLE_NUMBER = /^[0-9]+$/;

function positiveWholeNumber(value: string): string | undefined {
  const n = Number(value);
  return WHOLE_NUMBER.test(value) && Number.isSafeInteger(n) && n >= 1
    ? undefined
    : `must be a whole number ≥ 1, not ${quoted(value)}`;
}

/** What the SDK itself accepts as a region (a host label): `eu-west-1`, `us-gov-west-1`, `local`. */
const REGION = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

function httpUrl(value: string): string | undefined {
  const problem = `must be an http:// or https:// URL such as http://127.0.0.1:5000, not ${quoted(value)}`;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
      ? undefined
      : problem;
  } catch {
    return problem;
  }
}

/** A DynamoDB table name, or a table's ARN (DynamoDB accepts both). */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table\/[A-Za-z0-9_.-]{3,255}$/;

function tableName(value: string): string | undefined {
  return TABLE_NAME.test(value) || TABLE_ARN.test(value)
    ? undefined
    : `must be a DynamoDB table name (3 to 255 letters, digits, "_", "-" or ".") or a table ARN, not ${quoted(value)}`;
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

function topicArn(value: string): string | undefined {
  return TOPIC_ARN.test(value)
    ? undefined
    : `must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:phoenix, not ${quoted(value)}`;
}

/** `2025-01-31`, `2025-01-31T12:00Z`, `2025-01-31T12:00:00.000+01:00`: a date, or a time with its zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function isoTime(value: string): string | undefined {
  const [year = 0, month = 0, day = 0] = value.slice(0, 10).split('-').map(Number);
  // Date rolls 2025-02-30 over to March 2nd; a calendar does not.
  const realDay = day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
  return ISO_TIME.test(value) && realDay && !Number.isNaN(new Date(value).getTime())
    ? undefined
    : `must be an ISO-8601 time such as 2025-01-31T12:00:00Z, not ${quoted(value)}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

function personName(value: string): string | undefined {
  return value.length <= 128 && !CONTROL.test(value)
    ? undefined
    : `must be a name of at most 128 characters on one line, not ${quoted(value)}`;
}

/**
 * Every string flag any command takes that has a shape to check, by name: one definition,
 * so `--table` means the same in every command. Flags not listed (file names) need only to
 * be non-empty here; reading the file says the rest.
 */
const VALUE_CHECKS: Readonly<Record<string, ValueCheck>> = {
  region: (value) =>
    REGION.test(value)
      ? undefined
      : `must be a region name such as eu-west-1 (lowercase letters, digits and dashes), not ${quoted(value)}`,
  endpoint: httpUrl,
  table: tableName,
  'topic-arn': topicArn,
  format: (value) =>
    value === 'text' || value === 'json' ? undefined : `must be text or json, not ${quoted(value)}`,
  concurrency: positiveWholeNumber,
  'max-rounds': positiveWholeNumber,
  version: positiveWholeNumber,
  now: isoTime,
  by: personName,
  fleet: (value) =>
    FLEET_NAME_PATTERN.test(value)
      ? undefined
      : `must be a fleet name (lowercase letters, digits and dashes, at most 63), not ${quoted(value)}`,
  template: (value) =>
    /^lt-[0-9a-f]{1,64}$/.test(value)
      ? undefined
      : `must be a launch template id such as lt-0123456789abcdef0, not ${quoted(value)}`,
};

/** Environment variables a flag falls back to, checked like the flag when they are set. */
const ENV_CHECKS: Readonly<Record<string, ValueCheck>> = {
  PHOENIX_TABLE_NAME: tableName,
  PHOENIX_TOPIC_ARN: topicArn,
  AWS_ENDPOINT_URL: httpUrl,
  AWS_REGION: (value) => VALUE_CHECKS.region?.(value),
};

// ---- the command line ---------------------------------------------------------------------------

type Tokens = { values: Record<string, string | boolean>; positionals: string[] };

/**
 * Reads `argv` against `options`: `--name value`, `--name=value`, `--flag`, `-h`, and `--`
 * before arguments that start with a dash. A value is the next argument unless that is
 * itself an option (`--…`): `--max-rounds -1` is the value -1, `--table --region x` is a
 * missing value. Returns what is wrong, as a sentence, or the tokens.
 */
function tokenize(
  argv: readonly string[],
  options: OptionsConfig,
  allowPositionals: boolean,
): Tokens | string {
  const values: Record<string, string | boolean> = Object.create(null);
  const positionals: string[] = [];
  const known = Object.keys(options);
  const unknown = (written: string): string => {
    const name = written.replace(/^-+/, '').split('=')[0] ?? '';
    const suggestion = name.length <= 64 ? closestMatch(name, known) : undefined;
    return `unknown option ${quoted(written.split('=')[0] ?? written)}${
      suggestion === undefined ? '' : `; did you mean --${suggestion}?`
    }`;
  };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      inline = equals === -1 ? undefined : arg.slice(equals + 1);
      if (!Object.hasOwn(options, name)) return unknown(arg);
    } else if (arg.startsWith('-') && arg.length > 1) {
      const short = arg.slice(1);
      const found = Object.entries(options).find(([, option]) => option.short === short);
      if (found === undefined) return unknown(arg);
      name = found[0];
    } else {
      if (!allowPositionals) return `unexpected argument ${quoted(arg)}`;
      positionals.push(arg);
      continue;
    }
    const option = options[name];
    if (option === undefined) return unknown(arg);
    if (Object.hasOwn(values, name)) return `--${name} is given twice: give it once`;
    if (option.type === 'boolean') {
      if (inline !== undefined) return `--${name} takes no value, not ${quoted(inline)}`;
      values[name] = true;
      continue;
    }
    if (inline === undefined) {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) return `--${name} needs a value`;
      inline = next;
      index += 1;
    }
    values[name] = inline;
  }
  return { values, positionals };
}

/** What is wrong with a given string value, or undefined. */
function valueProblem(flag: string, value: string, chosen = false): string | undefined {
  if (value === '') return `--${flag} is empty (an unset variable?): give it a value or leave it out`;
  // A value from the command's own `choices` was checked against them already.
  const problem = chosen ? undefined : VALUE_CHECKS[flag]?.(value);
  return problem === undefined ? undefined : `--${flag} ${problem}`;
}

/**
 * Parses `argv` strictly against `options` (plus `--help`) and checks every value given.
 * Returns the parsed flags, or the exit code the command ends with: 1 after printing the one
 * line that says what is wrong (on standard error), 0 after printing the usage on standard
 * output for `--help`.
 */
export function parseCommandLine<const O extends OptionsConfig, const P extends boolean = false>(
  command: string,
  argv: string[],
  options: O,
  usage: string,
  io: CliIo,
  allowPositionals?: P,
): ParsedCommandLine<O, P> | number {
  // Help wins over anything else on the line: someone asking how is not to be told off.
  const end = argv.indexOf('--');
  if ((end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')) {
    io.stdout(usage);
    return 0;
  }
  const tokens = tokenize(argv, { ...options, ...HELP_OPTION }, allowPositionals ?? false);
  const fail = (problem: string): number => {
    const hint = /^unknown option|^unexpected argument/.test(problem)
      ? ` (phoenix ${command} --help lists what it takes)`
      : '';
    io.stderr(`phoenix ${command}: ${problem}${hint}`);
    return 1;
  };
  if (typeof tokens === 'string') return fail(tokens);
  for (const [flag, value] of Object.entries(tokens.values)) {
    if (typeof value !== 'string') continue;
    const choices = (options[flag] as { choices?: readonly string[] } | undefined)?.choices;
    const problem =
      choices === undefined || value === '' || choices.includes(value)
        ? valueProblem(flag, value, choices !== undefined)
        : `--${flag} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not ${quoted(value)}`;
    if (problem !== undefined) return fail(problem);
  }
  const values: Record<string, string | boolean> = { ...tokens.values };
  // What parseArgs returns for exactly this configuration, which TypeScript cannot follow
  // through the generic options.
  return { values, positionals: tokens.positionals } as unknown as ParsedCommandLine<O, P>;
}

/**
 * An environment variable a flag falls back to: undefined when unset, the value when it is
 * a good one; a problem sentence when it is set but empty or malformed (an empty variable
 * is a mistake to report, never "not set": it is how a failed lookup usually shows).
 */
function envValue(
  env: Readonly<Record<string, string | undefined>>,
  name: keyof typeof ENV_CHECKS,
): { value: string | undefined } | { problem: string } {
  const value = env[name];
  if (value === undefined) return { value: undefined };
  if (value === '') return { problem: `${name} is set but empty: set it to a value or unset it` };
  const problem = ENV_CHECKS[name]?.(value);
  return problem === undefined ? { value } : { problem: `${name} ${problem}` };
}

/**
 * The client options `--region` and `--endpoint` ask for; absent flags leave the SDK's own
 * chain, whose `AWS_REGION` and `AWS_ENDPOINT_URL` are checked here too (the SDK would say
 * "Invalid URL" or nothing at all). Undefined after printing what is wrong.
 */
export function awsClientOptions(
  command: string,
  values: { region?: string; endpoint?: string },
  io: CliIo,
): ClientOptions | undefined {
  const options: ClientOptions = {};
  for (const [flag, variable] of [
    ['region', 'AWS_REGION'],
    ['endpoint', 'AWS_ENDPOINT_URL'],
  ] as const) {
    const given = values[flag];
    if (given !== undefined) {
      options[flag] = given;
      continue;
    }
    const fromEnv = envValue(io.env, variable);
    if ('problem' in fromEnv) {
      io.stderr(`phoenix ${command}: ${fromEnv.problem}`);
      return undefined;
    }
  }
  return options;
}

/**
 * The state table `--table` or `$PHOENIX_TABLE_NAME` names: `{ table: undefined }` when
 * neither names one, undefined after printing what is wrong with the one given.
 */
export function stateTableFrom(
  command: string,
  values: { table?: string },
  io: CliIo,
): { table: string | undefined } | undefined {
  if (values.table !== undefined) return { table: values.table };
  const fromEnv = envValue(io.env, 'PHOENIX_TABLE_NAME');
  if ('problem' in fromEnv) {
    io.stderr(`phoenix ${command}: ${fromEnv.problem}`);
    return undefined;
  }
  return { table: fromEnv.value };
}

/** {@link stateTableFrom} for a command that cannot work without one: says so when none is named. */
export function requiredStateTable(
  command: string,
  values: { table?: string },
  io: CliIo,
): string | undefined {
  const found = stateTableFrom(command, values, io);
  if (found === undefined) return undefined;
  if (found.table === undefined)
    io.stderr(`phoenix ${command}: no state table: pass --table NAME or set PHOENIX_TABLE_NAME`);
  return found.table;
}

/** The topic `--topic-arn` or `$PHOENIX_TOPIC_ARN` names; like {@link stateTableFrom}. */
export function topicArnFrom(
  command: string,
  values: { 'topic-arn'?: string },
  io: CliIo,
): { topicArn: string | undefined } | undefined {
  const given = values['topic-arn'];
  if (given !== undefined) return { topicArn: given };
  const fromEnv = envValue(io.env, 'PHOENIX_TOPIC_ARN');
  if ('problem' in fromEnv) {
    io.stderr(`phoenix ${command}: ${fromEnv.problem}`);
    return undefined;
  }
  return { topicArn: fromEnv.value };
}

/**
 * Loads and compiles a desired-state file; undefined after printing why it could not (every
 * validation issue as `file:line:col message`, or the one problem). Anything that is not a
 * Phoenix error is a bug and is thrown.
 */
export async function loadDesiredStateFor(
  command: string,
  file: string,
  io: CliIo,
): Promise<CompiledDesiredState | undefined> {
  try {
    return await loadDesiredStateFile(file);
  } catch (error) {
    if (error instanceof DesiredStateInvalidError) {
      for (const issue of error.issues) io.stderr(formatIssue(issue));
      return undefined;
    }
    if (error instanceof PhoenixError) {
      io.stderr(`phoenix ${command}: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

/**
 * Any error for a person, on one line: AWS's own errors by their cause (no credentials, access
 * denied, throttled, unreachable, not AWS at all), anything else as `Name: message`.
 */
export function describeError(error: unknown): string {
  return describeAwsError(error);
}

/** A flag a command cannot work without; undefined after saying it is missing. */
export function requiredFlag(
  command: string,
  flag: string,
  value: string | undefined,
  io: CliIo,
): string | undefined {
  if (value !== undefined) return value;
  io.stderr(`phoenix ${command}: --${flag} is required (phoenix ${command} --help lists what it takes)`);
  return undefined;
}

/** `--desired-state FILE` of a command that needs one; undefined after saying it is missing. */
export function requiredDesiredStateFile(
  command: string,
  values: { 'desired-state'?: string },
  io: CliIo,
): string | undefined {
  return requiredFlag(command, 'desired-state', values['desired-state'], io);
}

/** `--format text|json` (default text): the value was checked with the other flags. */
export function outputFormatFrom(values: { format?: string }): 'text' | 'json' {
  return values.format === 'json' ? 'json' : 'text';
}
