import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../functions/cli/commands/validate';
import { memoryIo } from '../../functions/cli/io';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const VALID = 'examples/minimal.yaml';
const ALSO_VALID = 'examples/phoenix.yaml';

const INVALID_TEXT = [
  'version: 1',
  'fleets:',
  '  web:',
  '    match: { autoScalingGroup: web-prod }',
  '    launchTemplate: { name: web-lt }',
  '    budget: { maxConcurrent: 0 }',
  '    mdoe: enforce',
  '',
].join('\n');

let dir: string;
let invalid: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'phoenix-validate-'));
  invalid = path.join(dir, 'phoenix.yaml');
  await writeFile(invalid, INVALID_TEXT);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectedErrors(file: string): string {
  return [
    `${file}:6:30 fleets.web.budget.maxConcurrent: expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%), got the number 0`,
    `${file}:7:5 fleets.web: unknown key "mdoe"; did you mean "mode"?`,
    '',
  ].join('\n');
}

describe('phoenix validate', () => {
  it('says each valid file is valid, with its fleet count and revision, and exits 0', async () => {
    const io = memoryIo();

    const code = await run([VALID, ALSO_VALID], io);

    expect(code).toBe(0);
    expect(io.out()).toMatch(
      /^examples\/minimal\.yaml: valid \(1 fleet, revision [0-9a-f]{12}\)\nexamples\/phoenix\.yaml: valid \(4 fleets, revision [0-9a-f]{12}\)\n$/,
    );
    expect(io.err()).toBe('');
  });

  it('prints every problem as file:line:col message on standard error and exits 1', async () => {
    const io = memoryIo();

    const code = await run([invalid], io);

    expect(code).toBe(1);
    expect(io.err()).toBe(expectedErrors(invalid));
    expect(io.out()).toBe('');
  });

  it('checks every file even after one fails, and still exits 1', async () => {
    const io = memoryIo();

    const code = await run([invalid, VALID], io);

    expect(code).toBe(1);
    expect(io.err()).toBe(expectedErrors(invalid));
    expect(io.out()).toContain(`${VALID}: valid`);
  });

  it('names a file that cannot be read and exits 1', async () => {
    const io = memoryIo();

    const code = await run(['does-not-exist.yaml'], io);

    expect(code).toBe(1);
    expect(io.err()).toBe(
      'phoenix validate: cannot read desired-state file does-not-exist.yaml: no such file\n',
    );
  });

  it.each([
    {
      argv: [],
      why: 'no file',
      message: 'phoenix validate: name at least one file (phoenix validate --help lists what it takes)',
    },
    {
      argv: ['--strict', VALID],
      why: 'an unknown option',
      message: 'phoenix validate: unknown option "--strict" (phoenix validate --help lists what it takes)',
    },
  ])('says what is wrong in one line and exits 1 for $why', async ({ argv, message }) => {
    const io = memoryIo();

    const code = await run(argv, io);

    expect(code).toBe(1);
    expect(io.err()).toBe(`${message}\n`);
  });

  it('prints its usage on --help and exits 0', async () => {
    const io = memoryIo();

    const code = await run(['--help'], io);

    expect(code).toBe(0);
    expect(io.out()).toContain('Usage: phoenix validate FILE...');
  });

  describe('as a real process (bin/phoenix.mjs)', () => {
    const phoenix = async (...args: string[]) =>
      promisify(execFile)(process.execPath, [path.join(repoRoot, 'bin/phoenix.mjs'), ...args], {
        cwd: repoRoot,
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    it('exits 0 for a valid file', async () => {
      const result = await phoenix('validate', VALID);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^examples\/minimal\.yaml: valid \(1 fleet, revision [0-9a-f]{12}\)\n$/);
    });

    it('exits 1 with the problems on standard error for an invalid file', async () => {
      const result = await phoenix('validate', invalid);

      expect(result).toMatchObject({ code: 1, stdout: '', stderr: expectedErrors(invalid) });
    });
  });
});
