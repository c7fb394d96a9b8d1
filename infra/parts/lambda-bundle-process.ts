/**
 * The child process of `bundleLambdaSync` (lambda-bundle.ts): reads a bundle request as JSON
 * on standard input, builds it with `bundleLambda`, prints `{ "bytes": N }`. esbuild's
 * messages go to standard error; a failed build exits 1.
 */
import { readFileSync } from 'node:fs';
import { bundleLambda, type LambdaBundleRequest } from './lambda-bundle';

const request = JSON.parse(readFileSync(0, 'utf8')) as LambdaBundleRequest;
try {
  const built = await bundleLambda(request);
  process.stdout.write(JSON.stringify({ bytes: built.bytes }));
} catch (error) {
  // esbuild has already printed its errors; anything else is said here.
  if (!(error instanceof Error && 'errors' in error)) process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
}
