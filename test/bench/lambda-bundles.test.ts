/**
 * The Lambda bundles stay light: each, built as CDK deploys it, reaches no classic zod. One
 * import of it anywhere in a bundle brings back the weight `zod/mini` saves (see
 * `functions/runtime/validation.ts` and `npm run bench -- --only cold-start`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAMBDA_ENTRIES } from '../../bench/cold-start';
import { classicZodImporters, contributedInputs } from '../../bench/lib/bundle';
import { bundleLambda, desiredStateDefine } from '../../infra/parts/lambda-bundle';
import { desiredState } from '../helpers/builders';

const scratch = await mkdtemp(join(tmpdir(), 'phoenix-lambda-bundles-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('the Lambda bundles', () => {
  it.each(LAMBDA_ENTRIES.map((fn) => [fn.name, fn.entry]))(
    '%s imports zod/mini only, so no classic zod module is bundled',
    async (name, entry) => {
      const bundle = await bundleLambda({
        entry,
        outdir: join(scratch, name),
        define: desiredStateDefine(desiredState()),
      });

      expect(classicZodImporters(bundle.metafile)).toEqual([]);
      expect(contributedInputs(bundle.metafile).filter((i) => i.path.includes('/zod/v4/classic/'))).toEqual(
        [],
      );
    },
  );
});
