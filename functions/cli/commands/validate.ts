/**
 * `phoenix validate FILE...`: checks desired-state files the way `cdk synth` will, so a
 * pull request can fail early with every problem and its position.
 */
import { parseArgs } from 'node:util';
import { DesiredStateInvalidError } from '../../domain/desired-state/errors';
import { formatIssue } from '../../domain/desired-state/validate';
import { PhoenixError } from '../../domain/errors';
import { loadDesiredStateFile } from '../../io/desired-state-file';
import type { CliIo } from '../io';

const HELP = `Usage: phoenix validate FILE...

Checks each desired-state file (phoenix.yaml) and prints, for a valid one,
  FILE: valid (N fleets, revision R)
and for an invalid one every problem on standard error as
  FILE:LINE:COLUMN message

Exit status: 0 when every file is valid, 1 otherwise.`;

/** Runs the command; returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let files: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (parsed.values.help === true) {
      io.stdout(HELP);
      return 0;
    }
    files = parsed.positionals;
  } catch (error) {
    io.stderr(`phoenix validate: ${(error as Error).message}\n\n${HELP}`);
    return 1;
  }
  if (files.length === 0) {
    io.stderr(`phoenix validate: name at least one file\n\n${HELP}`);
    return 1;
  }

  let failed = false;
  for (const file of files) {
    try {
      const compiled = await loadDesiredStateFile(file);
      const count = compiled.fleets.length;
      io.stdout(`${file}: valid (${count} fleet${count === 1 ? '' : 's'}, revision ${compiled.revision})`);
    } catch (error) {
      failed = true;
      if (error instanceof DesiredStateInvalidError) {
        for (const issue of error.issues) io.stderr(formatIssue(issue));
      } else if (error instanceof PhoenixError) {
        io.stderr(`phoenix validate: ${error.message}`);
      } else {
        throw error;
      }
    }
  }
  return failed ? 1 : 0;
}
