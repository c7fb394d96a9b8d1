/**
 * Progress on stderr while the benchmarks run, so stdout holds only the results table.
 * On a terminal a counter rewrites its own line; elsewhere (CI logs) it prints a line at
 * most every tenth of the way.
 */

export interface Progress {
  /** A line saying what starts now, with the time since the run began. */
  say(message: string): void;
  /** `label done/total`; call as the work advances. */
  count(label: string, done: number, total: number): void;
}

export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  let lastTenth = -1;
  let open = false;
  const endLine = () => {
    if (open) stream.write('\n');
    open = false;
  };
  return {
    say(message) {
      endLine();
      stream.write(`[${elapsed()}] ${message}\n`);
      lastTenth = -1;
    },
    count(label, done, total) {
      const text = `[${elapsed()}]   ${label} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}`;
      if (stream.isTTY) {
        stream.write(`\r${text}`);
        open = done < total;
        if (!open) stream.write('\n');
        return;
      }
      const tenth = Math.floor((10 * done) / Math.max(1, total));
      if (tenth !== lastTenth || done === total) {
        stream.write(`${text}\n`);
        lastTenth = tenth;
      }
    },
  };
}

/** A progress that says nothing (unit tests of the benchmark modules). */
export const silentProgress: Progress = { say() {}, count() {} };
