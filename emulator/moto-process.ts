/**
 * The emulated AWS account as a process: moto's server on a free loopback port, started
 * through `moto-launcher.py` (moto corrected where AWS differs in a way Phoenix depends on;
 * docs/emulator.md), and stopped by its own process id.
 *
 * Plain Node (no vitest), so the test run's global setup, the benchmarks and the demo all
 * start it the same way. While it runs, Ctrl-C, SIGTERM or the parent's exit stop it too:
 * no server outlives whoever started it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;
const START_ATTEMPTS = 3;

/** Asks the kernel for a free port: bind to port 0, read it back, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/** The one launcher: moto with Phoenix's corrections (and, on request, its scale patches). */
export const MOTO_LAUNCHER = fileURLToPath(new URL('./moto-launcher.py', import.meta.url));

function motoCommand(port: number, scale: boolean): { command: string; args: string[] } {
  return {
    command: 'python3',
    args: [MOTO_LAUNCHER, ...(scale ? ['--scale'] : []), '-H', HOST, '-p', String(port)],
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stop(child: ChildProcess): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const stopped = await Promise.race([gone.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
  if (!stopped && !exited(child)) {
    process.kill(child.pid, 'SIGKILL');
    await gone;
  }
}

interface Started {
  endpoint: string;
  pid: number | undefined;
  stop: () => Promise<void>;
}

class MotoStartError extends Error {
  constructor(
    message: string,
    /** The port was taken before moto could bind it: worth another try on a new port. */
    readonly portTaken: boolean,
  ) {
    super(message);
    this.name = 'MotoStartError';
  }
}

async function startOnce(options: StartEmulatorOptions): Promise<Started> {
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  const { command, args } = motoCommand(port, options.scale === true);
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env, PYTHONUNBUFFERED: '1' },
  });

  // moto logs every request to stderr. The pipe must be drained or moto blocks once it is
  // full; only the tail is kept, for a startup failure message.
  let stderrTail = '';
  let announced = false;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    // Proof that THIS process bound the port: another test run's moto could answer on it
    // if the port were taken between probing and binding.
    if (!announced && stderrTail.includes(`Running on ${endpoint}`)) announced = true;
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  // Ctrl-C or a CI cancel: stop moto now, then leave the signal to the parent's own handler
  // (vitest's, which exits) or, if nobody else listens, to Node's default behaviour.
  const onSignal = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined && !exited(child)) child.kill('SIGKILL');
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort if the parent exits without stopping it.
  const onExit = () => {
    if (child.pid !== undefined && !exited(child)) child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const teardown = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    await stop(child);
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(announced && !exited(child) && (await answers(`${endpoint}/moto-api/`)))) {
    if (spawnError !== undefined || exited(child) || Date.now() > deadline) {
      await teardown();
      const why =
        spawnError?.message ??
        (exited(child)
          ? `it exited with ${child.exitCode ?? child.signalCode}`
          : `it did not answer within ${STARTUP_TIMEOUT_MS / 1000}s`);
      throw new MotoStartError(
        `The emulated AWS account did not start (\`${command} ${args.join(' ')}\`): ${why}.\n` +
          'Install it with: python3 -m pip install "moto[server]==5.2.1"\n' +
          `--- moto stderr (tail) ---\n${stderrTail}`,
        /address already in use/i.test(stderrTail),
      );
    }
    await sleep(100);
  }
  return { endpoint, pid: child.pid, stop: teardown };
}

/** A running emulated account. */
export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** The server's process id, so a caller can check that nothing outlives it. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period); safe to call twice. */
  readonly stop: () => Promise<void>;
}

export interface StartEmulatorOptions {
  /** Extra environment for moto (e.g. `MOTO_AMIS_PATH` for a smaller image catalogue). */
  env?: Readonly<Record<string, string>>;
  /**
   * Makes moto's per-resource lookups direct (same answers, no scans of the whole account):
   * the benchmarks' 10,000-instance account needs it.
   */
  scale?: boolean;
}

/**
 * Starts moto on a free loopback port and resolves once it answers; retries on a new port
 * when another process took the probed one first.
 *
 * @throws Error naming the command, why it failed and the tail of moto's stderr.
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (!(error instanceof MotoStartError && error.portTaken && attempt < START_ATTEMPTS)) throw error;
    }
  }
}

/** Stops an emulator started by {@link startEmulator}. */
export async function stopEmulator(emulator: RunningEmulator): Promise<void> {
  await emulator.stop();
}
