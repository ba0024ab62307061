import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // test/stress is bounded (NODESTOR_CRASH_CYCLES, default 50) and runs with the rest.
    include: ['test/unit/**/*.test.ts', 'test/engine/**/*.test.ts', 'test/cluster/**/*.test.ts', 'test/daemon/**/*.test.ts', 'test/control/**/*.test.ts', 'test/stress/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/package/**/*.test.ts'],
    // Each test file is its own process: one engine per process is the engine's rule.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
