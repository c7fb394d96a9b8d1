import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/reset-per-file.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files share one emulated account; each resets it before it starts, so they run one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
