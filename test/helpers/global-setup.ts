/**
 * vitest global setup: one emulated AWS account (moto server) for the whole run.
 *
 * It listens on a free loopback port, its URL is provided to every test file as
 * `inject('motoEndpoint')`, and it is stopped by its own process id when the run ends
 * (or when vitest is interrupted), so no server outlives the tests.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

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

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** `moto_server` when installed as a script, else the module (pip --user installs, venvs). */
function motoCommand(port: number): { command: string; args: string[] } {
  const args = ['-H', HOST, '-p', String(port)];
  if (onPath('moto_server')) return { command: 'moto_server', args };
  return { command: 'python3', args: ['-m', 'moto.server', ...args] };
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

async function startOnce(): Promise<Started> {
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  const { command, args } = motoCommand(port);
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
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

  // Ctrl-C or a CI cancel: stop moto now, then leave the signal to vitest (which exits) or,
  // if nobody else listens, to Node's default behaviour.
  const onSignal = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined && !exited(child)) child.kill('SIGKILL');
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Last resort if vitest exits without running the teardown.
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
  return { endpoint, stop: teardown };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let started: Started | undefined;
  for (let attempt = 1; started === undefined; attempt += 1) {
    try {
      started = await startOnce();
    } catch (error) {
      if (!(error instanceof MotoStartError && error.portTaken && attempt < START_ATTEMPTS)) throw error;
    }
  }
  project.provide('motoEndpoint', started.endpoint);
  return started.stop;
}
