/**
 * Running a measurement in a fresh Node process and reading the one JSON line it prints.
 *
 * A fresh process is the only honest cold start (nothing cached in the module registry or
 * V8's compilation cache) and the only way to read a peak RSS that belongs to one workload.
 */
import { spawn } from 'node:child_process';

/** The child failed or printed no JSON: the message carries the tail of its stderr. */
export class ChildMeasurementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChildMeasurementError';
  }
}

const STDERR_TAIL = 4_000;

/**
 * Runs `node [nodeArgs] script [args]` with exactly `env` (nothing inherited unless passed)
 * and resolves with the JSON object on the last line of its stdout.
 */
export function runNodeChild<T>(options: {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  timeoutMs?: number;
}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options.args], {
      env: { ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.once('error', (error) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      const last = stdout.trimEnd().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(
          new ChildMeasurementError(
            `measurement process exited with ${code ?? signal}${signal === 'SIGKILL' ? ' (timed out)' : ''}\n${stderr}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new ChildMeasurementError(`measurement process printed no JSON result: ${last}\n${stderr}`));
      }
    });
  });
}
