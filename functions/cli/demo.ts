/**
 * `npm run demo [-- --keep]`: Phoenix end to end on an emulated AWS account (see
 * functions/demo/run.ts). Needs no AWS account: moto is started here and stopped on every
 * path — normal end, error, Ctrl-C or SIGTERM.
 *
 * `--keep` leaves the emulated account running after the demo, prints its endpoint and the
 * commands to look at it, and stops it on Ctrl-C.
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { RunningEmulator } from '../../emulator/moto-process';
import { DEMO_CREDENTIALS, runDemo } from '../demo/run';
import { PhoenixError } from '../domain/errors';
import { type CliIo, processIo } from './io';

const HELP = `Usage: npm run demo [-- --keep]

Starts an emulated AWS account (moto), seeds two teams' fleets, shows them in sync,
makes them drift the way it happens in life, and lets Phoenix detect and replace what
drifted, through the real evaluator and the real state machine. About half a minute.

Options:
  --keep   leave the emulated account running afterwards (Ctrl-C stops it) and print
           the commands to poke at it with \`phoenix plan\``;

/** Exit code when the user interrupted the demo (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

/** Runs the demo with the process's streams and signals; resolves with the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let keep = false;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    });
    if (values.help === true) {
      io.stdout(HELP);
      return 0;
    }
    keep = values.keep === true;
  } catch (error) {
    io.stderr(`demo: ${(error as Error).message}\n\n${HELP}`);
    return 1;
  }

  let emulator: RunningEmulator | undefined;
  let demoDone = false;
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (demoDone && keep) {
      // --keep: the demo is over and waiting for exactly this.
      requestStop();
      return;
    }
    io.stderr(`\nInterrupted (${signal}): stopping the emulated account…`);
    const stopping = emulator === undefined ? Promise.resolve() : emulator.stop();
    void stopping.finally(() => process.exit(EXIT_INTERRUPTED));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runDemo({
      io,
      keep,
      stopRequested: stopRequested.then(() => undefined),
      onEmulator: (running) => {
        emulator = running;
      },
      onDemoDone: () => {
        demoDone = true;
      },
    });
  } catch (error) {
    const message =
      error instanceof PhoenixError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    io.stderr(`demo failed: ${message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  // The emulator takes any credentials; the demo's commands read the SDK's chain, so they
  // get these rather than the user's real ones.
  process.env.AWS_ACCESS_KEY_ID = DEMO_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = DEMO_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.exitCode = await main(process.argv.slice(2), processIo());
}
