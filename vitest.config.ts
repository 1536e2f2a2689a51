import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.tessera/**'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: every test file boots real processes (anvil, Postgres, Ponder).
    maxWorkers: 2,
    fileParallelism: true,
  },
})
