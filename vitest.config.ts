import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Fails the run when a process the suite started outlives it.
    globalSetup: ['tests/support/leftovers.ts'],
    // Test files start real servers; two cores cannot run many of them at once.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results.json' },
  },
});
