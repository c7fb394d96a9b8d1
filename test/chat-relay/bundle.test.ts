/**
 * The chat relay as Lambda loads it: bundled the way infra bundles every Phoenix function
 * (ESM, SDK included), it starts with its routes and refuses to start without them, with
 * one line that says why.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER, PROJECT_ROOT } from '../../infra/parts/functions';
import { scratchDir } from '../infra/helpers/synth';

let bundle: string;
beforeAll(async () => {
  bundle = path.join(scratchDir('chat-relay-bundle'), 'index.mjs');
  await build({
    entryPoints: [path.join(PROJECT_ROOT, 'functions/chat-relay/handler.ts')],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    outfile: bundle,
    logLevel: 'silent',
  });
}, 120_000);

function load(env: Record<string, string>) {
  return spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); console.log(typeof m.handler);`,
    ],
    {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, AWS_REGION: 'eu-central-1', ...env },
    },
  );
}

describe('the chat relay bundle', () => {
  it('starts with its routes', () => {
    const run = load({
      PHOENIX_CHAT_ROUTES: '{"chat-web":"arn:aws:sns:eu-central-1:123456789012:phoenix-chat-web"}',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('function');
  });

  it('refuses to start without them, saying so', () => {
    const run = load({});
    expect(run.status).not.toBe(0);
    // Minified, the class prints as `fn [ChatRouteError]`: its name is what Lambda reports.
    expect(run.stderr).toMatch(/\[ChatRouteError\]: chat-relay cannot start: PHOENIX_CHAT_ROUTES is not set/);
  });
});
