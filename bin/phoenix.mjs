#!/usr/bin/env node
// The `phoenix` command. The sources are TypeScript; tsx compiles them on the fly so the
// CLI runs from a checkout with no build step.
import { register } from 'tsx/esm/api';

// Our own settings, whatever tsconfig.json the directory it runs in holds.
register({ tsconfig: false });

const { main } = await import('../functions/cli/main.ts');
const { processIo } = await import('../functions/cli/io.ts');
process.exitCode = await main(process.argv.slice(2), processIo());
