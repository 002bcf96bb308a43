import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers on loopback; 2-core machines are slow and noisy.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
