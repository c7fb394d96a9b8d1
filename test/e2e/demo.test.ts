import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO_TIMEOUT_MS = 120_000;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** A child process whose output is collected, and which can be waited on for a line or its end. */
function launch(command: string, args: string[]) {
  const child: ChildProcess = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const finished = new Promise<Finished>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS);
  void finished.then(() => clearTimeout(timer));
  return {
    child,
    finished,
    /** Standard output so far. */
    output: () => out,
    /** Resolves with the first match of `pattern` in standard output, once it appears. */
    async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      for (;;) {
        const match = out.match(pattern);
        if (match !== null) return match;
        if (child.exitCode !== null) throw new Error(`exited before printing ${pattern}:\n${out}\n${err}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

const EMULATOR_LINE = /moto listening on (http:\/\/127\.0\.0\.1:\d+) \(pid (\d+)\)/;

/** Whether a process with this id exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether moto answers within `withinMs`: the demo keeps it busy seeding right after start,
 * so one slow answer on a loaded machine does not mean it is down.
 */
async function answersWithin(url: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  do {
    if (await answers(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  } while (Date.now() < deadline);
  return false;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The demo as `npm run demo` runs it, in one process (see the note on signals below). */
function demo(...args: string[]) {
  // `npm run demo` is `tsx functions/cli/demo.ts`; `node --import tsx` runs the same file in
  // one process. The tsx CLI wrapper relays a signal sent to it alone and SIGKILLs a child
  // that does not confirm within 30 ms, which would test tsx rather than the demo.
  return launch(process.execPath, ['--import', 'tsx', 'functions/cli/demo.ts', ...args]);
}

/** The text from the first `from` up to the next `to` (or the end). */
function between(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  if (start < 0) return '';
  const end = text.indexOf(to, start + from.length);
  return text.slice(start, end < 0 ? undefined : end);
}

describe('npm run demo', () => {
  it(
    'shows drift found, instances replaced and what each team was told; --keep leaves the account up for phoenix plan until Ctrl-C, then nothing is left behind',
    async () => {
      const run = demo('--keep');
      const [, endpoint = '', pid = ''] = await run.waitFor(EMULATOR_LINE);
      const [, command = ''] = await run.waitFor(/\n {2}(AWS_ACCESS_KEY_ID=demo .* plan .*)\n/);
      await run.waitFor(/Press Ctrl-C to stop it\./);
      const out = run.output();

      // In sync first, by `phoenix plan`.
      expect(out).toMatch(/Summary: 12 instances in 5 fleets: 0 drifted, 11 in sync, 1 excluded/);
      // The drift, as the evaluator saw it from the events.
      expect(out).toMatch(/CloudTrail CreateTags: judged 1 instance \(1 drifted\) → 1 remediation started/);
      expect(out).toMatch(
        /CloudTrail CreateLaunchTemplateVersion: judged 2 instances \(2 in sync\) → nothing to do/,
      );
      expect(out).toMatch(
        /CloudTrail ModifyLaunchTemplate: judged 2 instances \(2 drifted\) → 2 remediations started/,
      );
      expect(out).toMatch(/ModifyInstanceAttribute: .*not acted on yet: only running instances are replaced/);
      // What happened, with reasons, replacements, what was left alone and the teams' inboxes.
      expect(out).toMatch(/Drift found on 4 instances: 4 replaced\. Converged/);
      expect(out).toMatch(/\(web\): tags\.Owner: expected team-storefront, found alice-debugging — by alice/);
      expect(out).toMatch(
        /\(payments-api\): imageId: expected payments-api-2025\.06\.2, found payments-api-2025\.06\.1/,
      );
      expect(out).toMatch(/\(reports\): instanceType: expected t3\.medium, found t3\.large/);
      expect(out.match(/i-[0-9a-f]+ → i-[0-9a-f]+ {2}\(/g)).toHaveLength(4);
      expect(out).toMatch(/carries the exclusion tag phoenix:skip=true of fleet web/);
      expect(out).toMatch(/"legacy-bastion": no declared fleet selects/);
      expect(out).toMatch(
        /storefront: 6 messages \(2 drift\.detected, 2 remediation\.started, 2 remediation\.succeeded\)/,
      );
      expect(out).toMatch(
        /payments: 6 messages \(2 drift\.detected, 2 remediation\.started, 2 remediation\.succeeded\)/,
      );
      // Run again: nothing to do.
      expect(out).toMatch(/Nothing to do: 12 instances in 5 fleets, none drifted\./);
      // A broken build: staging's canary replaced, its alarm fires during the bake, the rollout
      // halts with staging's other instance untouched and production never begun.
      const broken = between(out, '── 8.', '── 9.');
      expect(broken).toMatch(/checkout-staging .* halted .*replaced 1 \/ admitted 1 \/ members 2/);
      expect(broken).toMatch(/waits: halted: alarm checkout-staging-5xx in ALARM/);
      expect(broken).toMatch(/\(checkout\) not replaced: .*waiting for fleet checkout-staging/);
      expect(broken).toMatch(/NOT converged/);
      // Only the canary runs before its bake: the others wait for a later round, never spin
      // their lease retries against the canary.
      expect(broken).toMatch(
        /fleet checkout-staging: the canary first \(1 now\); 1 more wait for it and its bake/,
      );
      expect(out).not.toMatch(/AcquireLease retried after error/);
      expect(broken).not.toMatch(/\(checkout\) drifted: .*\n.*AcquireLease/);
      // The fix: staging bakes it clean, then production is promoted and converges.
      const fixed = between(out, '── 9.', 'Demo done');
      expect(fixed).toMatch(/every alarm OK/);
      expect(fixed).toMatch(/Converged: every instance matches the desired state/);
      expect(fixed).toMatch(/checkout +lt-[0-9a-f]+ v3 \(ami-0d3e0a1b2c3d4e508\) +completed +replaced 4/);
      expect(fixed).toMatch(
        /checkout-staging +lt-[0-9a-f]+ v3 \(ami-0d3e0a1b2c3d4e508\) +completed +replaced 2/,
      );
      const heard = fixed.slice(fixed.indexOf('What team payments heard'));
      const order = [
        'checkout-staging: rollout started',
        'checkout-staging: rollout HALTED',
        'checkout-staging: rollout started',
        'checkout-staging: rollout completed',
        'checkout: rollout started',
        'checkout: rollout completed',
      ];
      let at = 0;
      for (const subject of order) {
        const found = heard.indexOf(subject, at);
        expect(found, subject).toBeGreaterThanOrEqual(0);
        at = found + subject.length;
      }

      // The command it prints works, as printed, against the account it kept.
      expect(command).toContain(`--endpoint ${endpoint}`);
      const plan = launch('sh', ['-c', command]);
      const planned = await plan.finished;
      expect(planned.code).toBe(0);
      expect(planned.out).toMatch(/Summary: 12 instances in 5 fleets: 0 drifted, 11 in sync, 1 excluded/);

      run.child.kill('SIGINT');
      const { code, out: all, err } = await run.finished;

      expect(err).not.toMatch(/demo failed|Interrupted/);
      expect(code).toBe(0);
      expect(all).toMatch(/Emulated account stopped\./);
      expect(alive(Number(pid))).toBe(false);
      expect(await answers(endpoint)).toBe(false);
    },
    DEMO_TIMEOUT_MS,
  );

  it(
    'stops its emulator when interrupted with Ctrl-C (SIGINT) half-way',
    async () => {
      const run = demo('--keep');
      const [, endpoint = '', pid = ''] = await run.waitFor(EMULATOR_LINE);
      expect(await answersWithin(endpoint, 15_000)).toBe(true);

      run.child.kill('SIGINT');
      const { code, err } = await run.finished;

      expect(code).toBe(130);
      expect(err).toMatch(/Interrupted \(SIGINT\): stopping the emulated account/);
      expect(alive(Number(pid))).toBe(false);
      expect(await answers(endpoint)).toBe(false);
    },
    DEMO_TIMEOUT_MS,
  );
});
