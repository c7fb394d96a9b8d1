/**
 * `phoenix validate FILE...`: checks desired-state files the way `cdk synth` will, so a
 * pull request can fail early with every problem and its position.
 */
import { loadDesiredStateFor, parseCommandLine } from '../command-line';
import type { CliIo } from '../io';

const HELP = `Usage: phoenix validate FILE...

Checks each desired-state file (phoenix.yaml) and prints, for a valid one,
  FILE: valid (N fleets, revision R)
and for an invalid one every problem on standard error as
  FILE:LINE:COLUMN message

Exit status: 0 when every file is valid, 1 otherwise.`;

/** Runs the command; returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine('validate', argv, {}, HELP, io, true);
  if (typeof parsed === 'number') return parsed;
  const files = parsed.positionals;
  if (files.length === 0) {
    io.stderr('phoenix validate: name at least one file (phoenix validate --help lists what it takes)');
    return 1;
  }

  if (files.includes('')) {
    io.stderr('phoenix validate: a file name is empty (an unset variable?)');
    return 1;
  }

  let failed = false;
  for (const file of files) {
    const compiled = await loadDesiredStateFor('validate', file, io);
    if (compiled === undefined) {
      failed = true;
      continue;
    }
    const count = compiled.fleets.length;
    io.stdout(`${file}: valid (${count} fleet${count === 1 ? '' : 's'}, revision ${compiled.revision})`);
  }
  return failed ? 1 : 0;
}
