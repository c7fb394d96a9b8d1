/**
 * vitest setup file: every test file starts with an empty emulated account, so files
 * cannot see each other's resources whatever order they run in.
 */
import { beforeAll } from 'vitest';
import { resetEmulator } from './emulator';

beforeAll(async () => {
  await resetEmulator();
});
