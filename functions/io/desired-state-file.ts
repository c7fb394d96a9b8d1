/**
 * Reads `phoenix.yaml` from disk, validates and compiles it, and records where it came
 * from: the Git commit it was read at, its path in the repository, and its sha256.
 *
 * Impure on purpose (file system, `git`); used at synth time and by the CLI, never inside
 * a Lambda (which reads the compiled form from its bundle). Synchronous underneath: a CDK
 * construct's constructor (`desiredStatePath`) cannot await, and one small file and a few
 * `git` calls cost nothing worth an event loop.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { compileDesiredState } from '../domain/desired-state/compile';
import { DesiredStateInvalidError } from '../domain/desired-state/errors';
import { parseDesiredState } from '../domain/desired-state/validate';
import type { CompiledDesiredState, Provenance } from '../domain/model';
import { readInputFileSync } from './input-file';

export interface LoadOptions {
  /** The commit to record instead of asking Git (CI knows it; a tarball has no `.git`). */
  commit?: string;
}

/** Commit recorded when the file is not inside a Git repository (or Git is not installed). */
export const UNKNOWN_COMMIT = 'unknown';
/** Commit recorded when the repository has no commit yet. */
export const UNCOMMITTED = 'uncommitted';
/** Suffix when the file differs from the recorded commit (edited, staged or untracked). */
export const DIRTY_SUFFIX = '-dirty';

function git(args: readonly string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', [...args], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Where the file stands in Git, as far as Git can say; never throws. */
export function gitProvenance(
  absolutePath: string,
  options: LoadOptions = {},
): Pick<Provenance, 'commit' | 'path'> {
  const directory = path.dirname(absolutePath);
  const root = git(['rev-parse', '--show-toplevel'], directory);
  if (root === undefined) {
    return { commit: options.commit ?? UNKNOWN_COMMIT, path: path.basename(absolutePath) };
  }
  // Git prints the root with symlinks resolved; so must the file's path be before comparing.
  const relative = path.relative(realpathSync(root), realpathSync(absolutePath)).split(path.sep).join('/');
  if (options.commit !== undefined) return { commit: options.commit, path: relative };
  const head = git(['rev-parse', '--verify', '--quiet', 'HEAD'], directory);
  if (head === undefined || head === '') return { commit: UNCOMMITTED, path: relative };
  const status = git(['status', '--porcelain', '--', absolutePath], directory);
  // An ignored file shows no status but is no more in the commit than an untracked one.
  const tracked = git(['ls-files', '--error-unmatch', '--', absolutePath], directory) !== undefined;
  const dirty = !tracked || (status !== undefined && status !== '');
  return { commit: dirty ? `${head}${DIRTY_SUFFIX}` : head, path: relative };
}

/**
 * Loads, validates and compiles a desired-state file.
 *
 * @param filePath as the user gave it (relative to the working directory or absolute);
 *   issues name it this way so `file:line:col` is clickable.
 * @throws DesiredStateInvalidError with every problem when the file does not validate.
 * @throws InvalidInputError when the file cannot be read (missing, a directory, not UTF-8…).
 */
export async function loadDesiredStateFile(
  filePath: string,
  opts: LoadOptions = {},
): Promise<CompiledDesiredState> {
  return loadDesiredStateFileSync(filePath, opts);
}

/** {@link loadDesiredStateFile}, synchronously (a CDK construct's constructor cannot await). */
export function loadDesiredStateFileSync(filePath: string, opts: LoadOptions = {}): CompiledDesiredState {
  const absolutePath = path.resolve(filePath);
  const { bytes, text } = readInputFileSync(filePath, 'desired-state file');
  const parsed = parseDesiredState(text, filePath);
  if (!parsed.ok) throw new DesiredStateInvalidError(parsed.issues);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const where = gitProvenance(absolutePath, opts);
  return compileDesiredState(parsed.value, { ...where, sha256 });
}
