import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The package's `imports` point into dist (what consumers load); the tests run the sources.
  resolve: {
    alias: {
      '#node-ed25519': fileURLToPath(new URL('./src/node-ed25519.ts', import.meta.url)),
      '#web-socket': fileURLToPath(new URL('./src/services/web-socket.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers on loopback; 2-core machines are slow and noisy.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
