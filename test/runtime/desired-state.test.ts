/**
 * The bundled desired state: what infra's esbuild `define` inlines is exactly what
 * `bundledDesiredState()` returns inside the bundle, and outside a bundle the function
 * says clearly that nothing was bundled.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { bundledDesiredState } from '../../functions/runtime/desired-state';
import { DesiredStateNotBundledError } from '../../functions/runtime/errors';
import { DesiredStateTooLargeError, desiredStateDefine } from '../../infra/parts/functions';
import { loadFixture } from '../infra/helpers/synth';

const ROOT = path.join(import.meta.dirname, '..', '..');

/** Bundles a one-line entry that prints bundledDesiredState() as JSON, and runs it. */
async function runBundled(define: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  const result = await build({
    stdin: {
      contents:
        "import { bundledDesiredState } from './functions/runtime/desired-state';\n" +
        'console.log(JSON.stringify(bundledDesiredState()));',
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    minify: true,
    write: false,
    define,
  });
  const code = result.outputFiles[0]?.text ?? '';
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  return { stdout: run.stdout, stderr: run.stderr };
}

describe('bundledDesiredState', () => {
  it('returns, inside a bundle, the compiled state infra inlined, provenance included', async () => {
    const state = await loadFixture('phoenix.yaml');

    const { stdout, stderr } = await runBundled(desiredStateDefine(state));

    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual(state);
  });

  it('says nothing was bundled when run from sources', () => {
    expect(() => bundledDesiredState()).toThrow(DesiredStateNotBundledError);
    expect(() => bundledDesiredState()).toThrow(/pass the compiled desired state explicitly/);
  });

  it('refuses a bundle whose inlined value is not a compiled desired state', async () => {
    const { stderr } = await runBundled({ __PHOENIX_DESIRED_STATE__: '{"fleets":"web"}' });
    expect(stderr).toContain('DesiredStateNotBundledError');
  });
});

describe('desiredStateDefine', () => {
  it('refuses a state too large to pass to esbuild, naming its size', async () => {
    const state = await loadFixture('phoenix.yaml');
    const [fleet] = state.fleets;
    if (fleet === undefined) throw new Error('the fixture declares fleets');
    const huge: CompiledDesiredState = {
      ...state,
      fleets: Array.from({ length: 400 }, (_, i) => ({ ...fleet, name: `fleet-${i}` })),
    };
    expect(() => desiredStateDefine(huge)).toThrow(DesiredStateTooLargeError);
    expect(() => desiredStateDefine(huge)).toThrow(/\d+ bytes; at most 100000/);
  });
});
