import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // VM tests share the machine's two cores; run files one after another.
    fileParallelism: false,
    pool: 'forks',
    globalSetup: ['test/global-scratch.ts'],
  },
});
