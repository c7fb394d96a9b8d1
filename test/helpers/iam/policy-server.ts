/**
 * Synthesizes role policies for the test files, in one process for the whole run.
 *
 * Synthesizing a DriftRemediator costs several seconds the first time in a process (loading
 * aws-cdk-lib) and about a second after that. Test files run in their own processes, so each
 * would pay the first time; instead the global setup starts this server as a child process
 * (under tsx, which loads the infra sources much faster than vitest's own module runner) on a
 * loopback port, warm once for the whole run, and files ask it for the policies of each
 * desired state they use (`POST /policies` with `{ desiredState, props }`). Answers are cached
 * by request. It stops with its parent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { loadDesiredStateFile } from '../../../functions/io/desired-state-file';
import type { IamProps, SynthesizedPolicies } from './synthesized-policies';

export interface PolicyServer {
  url: string;
  stop: () => Promise<void>;
}

interface PolicyRequest {
  desiredState: CompiledDesiredState;
  props?: IamProps;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves on 127.0.0.1 (a free port) in this process and begins warming the synthesizer at once. */
export async function servePolicies(): Promise<PolicyServer> {
  const cache = new Map<string, Promise<SynthesizedPolicies>>();
  // One synth at a time: they are CPU-bound and share the process.
  let queue: Promise<unknown> = Promise.resolve();
  const synthesize = (request: PolicyRequest): Promise<SynthesizedPolicies> => {
    const run = queue.then(async () => {
      const { synthesizePolicies } = await import('./synthesized-policies');
      return synthesizePolicies(request.desiredState, request.props ?? {});
    });
    queue = run.catch(() => undefined);
    return run;
  };

  // Warm up while the first test files run: the first synth in a process is the slow one.
  void loadDesiredStateFile(path.join(import.meta.dirname, '..', '..', '..', 'examples', 'minimal.yaml'), {
    commit: 'warm-up',
  })
    .then((desiredState) => synthesize({ desiredState }))
    .catch(() => undefined);

  const server = createServer((request, response) => {
    void (async () => {
      try {
        if (request.method !== 'POST' || request.url !== '/policies') {
          response.writeHead(404).end();
          return;
        }
        const text = await body(request);
        const key = createHash('sha256').update(text).digest('hex');
        let answer = cache.get(key);
        if (answer === undefined) {
          answer = synthesize(JSON.parse(text) as PolicyRequest);
          cache.set(key, answer);
        }
        const policies = await answer;
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(policies));
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        response.writeHead(500, { 'content-type': 'text/plain' }).end(message);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const READY = 'phoenix-policy-server listening on ';

/** Starts the server as a child process; resolves with its URL once it listens. */
export async function startPolicyServer(): Promise<PolicyServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith(READY));
      if (line !== undefined) resolve(line.slice(READY.length).trim());
    });
    child.once('exit', (code) => reject(new Error(`the policy server exited with ${code} before listening`)));
    child.once('error', reject);
  });
  return {
    url,
    stop: async () => {
      process.off('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await servePolicies();
  process.stdout.write(`${READY}${server.url}\n`);
  // Ends with the run: when the parent stops it, or when the parent is gone (killed outright).
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 2_000).unref();
}
