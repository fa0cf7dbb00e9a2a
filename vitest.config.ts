import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file runs in its own process: PKCS#11 is initialised once per process,
    // and every integration file gets a fresh SoftHSM2 token directory.
    pool: 'forks',
    // Removes each file's temp dirs (tokens, data dirs) when the file ends.
    setupFiles: ['./test/support/remove-temp-dirs.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
