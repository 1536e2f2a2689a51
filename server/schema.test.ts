import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { printedSchema, schemaPath } from './printSchema.ts'

test('schema.graphql matches the built schema (run `npm run schema:print` after changing the API)', () => {
  expect(readFileSync(schemaPath, 'utf8')).toBe(printedSchema())
})
