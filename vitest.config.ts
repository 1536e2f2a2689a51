import { createRequire } from 'node:module'
import { defineConfig } from 'vitest/config'

// Pothos and Yoga load graphql-js as Node does (CommonJS index.js); vitest would otherwise hand our own
// files index.mjs, a second copy whose classes fail graphql's realm checks.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql')

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.tessera/**'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: every test file boots real processes (anvil, Postgres, Ponder).
    maxWorkers: 2,
    fileParallelism: true,
  },
})
