import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the pure code, and integration tests in test/ that use real
// databases, the real queue and real processes. The machine has 2 cores, so at most 2 files run at once.
export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
