#!/usr/bin/env node
// The `phoenix` command. Installed from the package it runs the compiled JavaScript in
// dist/ (built by `npm pack`); in a checkout, which has no dist/ (`npm pack` removes it
// again), tsx compiles the TypeScript sources on the fly, so there is no build step.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/functions/cli/main.js', import.meta.url);

let main;
let processIo;
if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
  ({ processIo } = await import(new URL('../dist/functions/cli/io.js', import.meta.url).href));
} else {
  const { register } = await import('tsx/esm/api');
  // Our own settings, whatever tsconfig.json the directory it runs in holds.
  register({ tsconfig: false });
  ({ main } = await import('../functions/cli/main.ts'));
  ({ processIo } = await import('../functions/cli/io.ts'));
}
process.exitCode = await main(process.argv.slice(2), processIo());
