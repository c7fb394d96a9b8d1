/**
 * The command line's window on the world: where text goes, whether a person is watching,
 * and the environment. Commands take a {@link CliIo} instead of touching `process`, so a
 * test runs a command in-process with {@link memoryIo} and reads what it printed.
 */

/** What every `phoenix` command receives besides its arguments. */
export interface CliIo {
  /** Writes `text` and a line break to standard output (like `console.log`). */
  stdout(text: string): void;
  /** Writes `text` and a line break to standard error. */
  stderr(text: string): void;
  /** True when standard output is a terminal (progress and colour are for people, not pipes). */
  readonly isTTY: boolean;
  /** The environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, …). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The real process: standard streams and `process.env`. Only the launchers call this. */
export function processIo(): CliIo {
  return {
    stdout: (text) => {
      process.stdout.write(`${text}\n`);
    },
    stderr: (text) => {
      process.stderr.write(`${text}\n`);
    },
    isTTY: process.stdout.isTTY === true,
    env: process.env,
  };
}

/** A {@link CliIo} that keeps everything in memory, for tests. */
export interface MemoryIo extends CliIo {
  /** Everything written to standard output so far, each call ending in a line break. */
  out(): string;
  /** Everything written to standard error so far, each call ending in a line break. */
  err(): string;
}

/** Builds an in-memory {@link CliIo}; not a terminal unless `isTTY` says so. */
export function memoryIo(
  options: { env?: Record<string, string | undefined>; isTTY?: boolean } = {},
): MemoryIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: (text) => {
      out.push(`${text}\n`);
    },
    stderr: (text) => {
      err.push(`${text}\n`);
    },
    isTTY: options.isTTY ?? false,
    env: options.env ?? {},
    out: () => out.join(''),
    err: () => err.join(''),
  };
}
