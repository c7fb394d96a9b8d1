import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DesiredStateInvalidError } from '../../functions/domain/desired-state/errors';
import { formatIssue } from '../../functions/domain/desired-state/validate';
import { InvalidInputError } from '../../functions/domain/errors';
import { loadDesiredStateFile } from '../../functions/io/desired-state-file';

const run = promisify(execFile);

const VALID = [
  'version: 1',
  'fleets:',
  '  web:',
  '    match: { autoScalingGroup: web-prod }',
  '    launchTemplate: { name: web-lt }',
  '',
].join('\n');

let workDir: string;

async function git(...args: string[]): Promise<string> {
  const { stdout } = await run(
    'git',
    [
      '-c',
      'user.name=Phoenix Test',
      '-c',
      'user.email=test@example.com',
      '-c',
      'commit.gpgsign=false',
      ...args,
    ],
    { cwd: workDir },
  );
  return stdout.trim();
}

async function write(relative: string, text: string): Promise<string> {
  const file = path.join(workDir, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

beforeEach(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'phoenix-desired-state-'));
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('loadDesiredStateFile', () => {
  describe('in a Git repository', () => {
    beforeEach(async () => {
      await git('init', '--quiet');
    });

    it('records the commit, the path from the repository root and the sha256 of the bytes', async () => {
      const file = await write('infra/phoenix.yaml', VALID);
      await git('add', '.');
      await git('commit', '--quiet', '-m', 'desired state');
      const head = await git('rev-parse', 'HEAD');

      const compiled = await loadDesiredStateFile(file);

      expect(compiled.provenance).toEqual({
        commit: head,
        path: 'infra/phoenix.yaml',
        sha256: sha256(VALID),
      });
      expect(compiled.revision).toBe(sha256(VALID).slice(0, 12));
      expect(compiled.fleets.map((fleet) => fleet.name)).toEqual(['web']);
    });

    it('marks the commit -dirty when the file was edited since', async () => {
      const file = await write('phoenix.yaml', VALID);
      await git('add', '.');
      await git('commit', '--quiet', '-m', 'desired state');
      const head = await git('rev-parse', 'HEAD');
      await writeFile(file, VALID.replace('web-lt', 'web-lt-2'));

      const compiled = await loadDesiredStateFile(file);

      expect(compiled.provenance.commit).toBe(`${head}-dirty`);
    });

    it('marks the commit -dirty when the file was never committed', async () => {
      await write('README.md', 'repo');
      await git('add', '.');
      await git('commit', '--quiet', '-m', 'first');
      const head = await git('rev-parse', 'HEAD');
      const file = await write('phoenix.yaml', VALID);

      const compiled = await loadDesiredStateFile(file);

      expect(compiled.provenance.commit).toBe(`${head}-dirty`);
    });

    it('says "uncommitted" in a repository with no commit yet', async () => {
      const file = await write('phoenix.yaml', VALID);

      const compiled = await loadDesiredStateFile(file);

      expect(compiled.provenance.commit).toBe('uncommitted');
    });

    it('records the commit it is given instead of asking Git (CI knows it)', async () => {
      const file = await write('deploy/phoenix.yaml', VALID);

      const compiled = await loadDesiredStateFile(file, { commit: 'ci-build-42' });

      expect(compiled.provenance).toMatchObject({ commit: 'ci-build-42', path: 'deploy/phoenix.yaml' });
    });
  });

  it('says "unknown" outside a Git repository', async () => {
    const file = await write('phoenix.yaml', VALID);

    const compiled = await loadDesiredStateFile(file);

    expect(compiled.provenance).toEqual({ commit: 'unknown', path: 'phoenix.yaml', sha256: sha256(VALID) });
  });

  it('throws DesiredStateInvalidError carrying every issue, one file:line:col line each in its message', async () => {
    const file = await write(
      'phoenix.yaml',
      VALID.replace('version: 1', 'version: 2').replace('web-prod }', 'web-prod, x: 1 }'),
    );

    const error = await loadDesiredStateFile(file).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DesiredStateInvalidError);
    const invalid = error as DesiredStateInvalidError;
    expect(invalid.name).toBe('DesiredStateInvalidError');
    expect(invalid.issues.map((issue) => [issue.file, issue.line])).toEqual([
      [file, 1],
      [file, 4],
    ]);
    expect(invalid.message).toBe(invalid.issues.map(formatIssue).join('\n'));
  });

  it('throws InvalidInputError naming a file that does not exist', async () => {
    const missing = path.join(workDir, 'nope.yaml');

    await expect(loadDesiredStateFile(missing)).rejects.toThrow(
      new InvalidInputError(`cannot read desired-state file ${missing}: no such file`),
    );
  });
});
