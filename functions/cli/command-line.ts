/**
 * What every `phoenix` command does with its command line before its own work: parse the
 * flags (a usage error or `--help` ends the command), turn `--region` / `--endpoint` into
 * client options, find the state table (`--table` or `$PHOENIX_TABLE_NAME`), load the
 * desired state. One place, so the commands cannot drift apart in how they read a flag or
 * word an error.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ClientOptions } from '../aws/clients';
import { DesiredStateInvalidError } from '../domain/desired-state/errors';
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

/** The flag naming Phoenix's state table (falls back to `$PHOENIX_TABLE_NAME`). */
export const STATE_TABLE_OPTION = { table: { type: 'string' } } as const;

/** The usage lines of {@link AWS_OPTIONS}, descriptions starting at `column`. */
export function awsOptionsUsage(column: number): string {
  return [
    `  ${'--region REGION'.padEnd(column - 2)}AWS region (default: the SDK configuration, e.g. $AWS_REGION)`,
    `  ${'--endpoint URL'.padEnd(column - 2)}AWS endpoint (default: $AWS_ENDPOINT_URL)`,
  ].join('\n');
}

/** What `parseArgs` returns for these options (strict, `--help` included). */
export type ParsedCommandLine<O extends OptionsConfig, P extends boolean> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & typeof HELP_OPTION;
    allowPositionals: P;
    strict: true;
  }>
>;

/**
 * Parses `argv` strictly against `options` (plus `--help`). Returns the parsed flags, or
 * the exit code the command ends with: 1 after printing the parse error and the usage on
 * standard error, 0 after printing the usage on standard output for `--help`.
 */
export function parseCommandLine<const O extends OptionsConfig, const P extends boolean = false>(
  command: string,
  argv: string[],
  options: O,
  usage: string,
  io: CliIo,
  allowPositionals?: P,
): ParsedCommandLine<O, P> | number {
  let parsed: { values: { help?: unknown }; positionals: string[] };
  try {
    const config: ParseArgsConfig = {
      args: argv,
      options: { ...options, ...HELP_OPTION },
      allowPositionals: allowPositionals ?? false,
      strict: true,
    };
    parsed = parseArgs(config);
  } catch (error) {
    io.stderr(`phoenix ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 1;
  }
  if (parsed.values.help === true) {
    io.stdout(usage);
    return 0;
  }
  // What parseArgs returned for exactly this configuration, which TypeScript cannot follow
  // through the generic options.
  return parsed as ParsedCommandLine<O, P>;
}

/** The client options `--region` and `--endpoint` ask for; absent flags leave the SDK's own chain. */
export function clientOptionsFrom(values: { region?: string; endpoint?: string }): ClientOptions {
  const options: ClientOptions = {};
  if (values.region !== undefined) options.region = values.region;
  if (values.endpoint !== undefined) options.endpoint = values.endpoint;
  return options;
}

/** The state table `--table` or `$PHOENIX_TABLE_NAME` names; undefined when neither names one. */
export function stateTableFrom(
  values: { table?: string },
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const table = values.table ?? env.PHOENIX_TABLE_NAME;
  return table === undefined || table === '' ? undefined : table;
}

/** {@link stateTableFrom} for a command that cannot work without one: says so when none is named. */
export function requiredStateTable(
  command: string,
  values: { table?: string },
  io: CliIo,
): string | undefined {
  const table = stateTableFrom(values, io.env);
  if (table === undefined)
    io.stderr(`phoenix ${command}: no state table: pass --table NAME or set PHOENIX_TABLE_NAME`);
  return table;
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

/** An AWS error for a person: `ResourceNotFoundException: Requested resource not found`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `--desired-state FILE` of a command that needs one; undefined after saying it is missing. */
export function requiredDesiredStateFile(
  command: string,
  values: { 'desired-state'?: string },
  usage: string,
  io: CliIo,
): string | undefined {
  const file = values['desired-state'];
  if (file !== undefined && file !== '') return file;
  io.stderr(`phoenix ${command}: --desired-state FILE is required\n\n${usage}`);
  return undefined;
}

/** `--format text|json` (default text); undefined after saying what was given instead. */
export function outputFormatFrom(
  command: string,
  values: { format?: string },
  io: CliIo,
): 'text' | 'json' | undefined {
  const format = values.format ?? 'text';
  if (format === 'text' || format === 'json') return format;
  io.stderr(`phoenix ${command}: --format must be text or json, not ${JSON.stringify(format)}`);
  return undefined;
}
