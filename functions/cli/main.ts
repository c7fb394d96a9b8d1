/**
 * `phoenix <command> [args]`: finds the command's module, loads it, runs it, returns its
 * exit code.
 *
 * Commands are loaded lazily so `phoenix validate` never pays for the AWS SDK that
 * `phoenix reconcile` needs. Adding a command is one line in {@link COMMANDS} and one file
 * `commands/<name>.ts` exporting `run(argv, io)`.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeAwsError, oneLine } from '../aws/describe-error';
import { PhoenixError } from '../domain/errors';
import { type CliIo, processIo } from './io';

/** What a command module exports. */
export interface CommandModule {
  run(argv: string[], io: CliIo): Promise<number>;
}

/**
 * Every command and its one-line summary, in the order `--help` lists them. The command
 * `name` lives in `commands/<name>.ts`.
 */
export const COMMANDS: Readonly<Record<string, string>> = {
  validate: 'check desired-state files; print file:line:col for every problem',
  explain: 'say which fleet an instance belongs to and why it is (not) drifted',
  plan: 'read-only: every in-scope instance, its verdict, what enforcement would do',
  reconcile: 'detect and remediate locally until every drifted instance converges',
  pause: 'stop new remediations (operator switch)',
  resume: 'allow remediations again',
  quarantine: 'list launch template versions a rollback quarantined; lift one',
  rollout: "list rollouts; approve, halt or resume a fleet's rollout",
};

/** Exit code for a usage error or a failed command. */
export const EXIT_ERROR = 1;

function usage(commands: Readonly<Record<string, string>>): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    'Usage: phoenix <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `phoenix <command> --help` for the options of one command.',
  ].join('\n');
}

/** The module file, whichever extension it was written or built with. */
function commandFileExists(module: string): boolean {
  return ['.ts', '.js', '.mjs'].some((ext) =>
    existsSync(new URL(`./commands/${module}${ext}`, import.meta.url)),
  );
}

/** `.ts` from sources, `.js` compiled (the package): Node.js imports a module by its file name. */
const MODULE_EXTENSION = extname(fileURLToPath(import.meta.url));

async function loadCommand(module: string): Promise<CommandModule | undefined> {
  // Built from a variable on purpose: commands still being written must not break the typecheck.
  const specifier = `./commands/${module}${MODULE_EXTENSION}`;
  const loaded: unknown = await import(/* @vite-ignore */ specifier).catch((error: unknown) => {
    if (!commandFileExists(module)) return undefined;
    throw error;
  });
  if (loaded === undefined) return undefined;
  const run = (loaded as { run?: unknown }).run;
  if (typeof run !== 'function') {
    throw new PhoenixError(`commands/${module} does not export run(argv, io)`);
  }
  return loaded as CommandModule;
}

/**
 * Runs `phoenix` with `argv` (the arguments after the program name) and returns the exit
 * code. Never throws: a failure is printed on standard error and exits 1. `commands` is
 * for tests; it defaults to {@link COMMANDS}.
 */
export async function main(
  argv: readonly string[],
  io: CliIo,
  commands: Readonly<Record<string, string>> = COMMANDS,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr(usage(commands));
    return EXIT_ERROR;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout(usage(commands));
    return 0;
  }
  if (!Object.hasOwn(commands, command)) {
    io.stderr(`phoenix: unknown command "${command}"\n\n${usage(commands)}`);
    return EXIT_ERROR;
  }
  try {
    const module = await loadCommand(command);
    if (module === undefined) {
      io.stderr(`phoenix: the "${command}" command is not available yet in this version`);
      return EXIT_ERROR;
    }
    return await module.run(rest, io);
  } catch (error) {
    io.stderr(`phoenix ${command}: ${describeError(error, io)}`);
    return EXIT_ERROR;
  }
}

function describeError(error: unknown, io: CliIo): string {
  if (error instanceof PhoenixError) return oneLine(error.message);
  // Unexpected: the stack is what a bug report needs, but only on request.
  if (error instanceof Error && io.env.PHOENIX_DEBUG) return error.stack ?? error.message;
  return describeAwsError(error);
}

// `npm run phoenix -- <command>` runs this file directly; bin/phoenix.mjs imports `main`.
const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  process.exitCode = await main(process.argv.slice(2), processIo());
}
