import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { printSchema } from 'graphql'
import { sortedSchema } from './schema/index.ts'

/** The SDL committed at the repository root, printed from the built Pothos schema. */
export function printedSchema(): string {
  return `${printSchema(sortedSchema())}\n`
}

export const schemaPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema.graphql')

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaPath, printedSchema())
  console.log(`wrote ${schemaPath}`)
}
