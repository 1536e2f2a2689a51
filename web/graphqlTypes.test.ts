import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from 'vitest'

const webDir = import.meta.dirname
const committed = path.join(webDir, 'src', 'graphql', 'graphql-env.d.ts')

// The pages' queries are typechecked against graphql-env.d.ts; one generated from an older schema.graphql would let a
// page ask for a field the server no longer has and still pass `npm run typecheck`.
test('web/src/graphql/graphql-env.d.ts is generated from the committed schema.graphql (npm run web:build regenerates it)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-gql-tada-'))
  try {
    const out = path.join(dir, 'graphql-env.d.ts')
    execFileSync(
      path.join(webDir, '..', 'node_modules', '.bin', 'gql.tada'),
      ['generate-output', '-c', path.join(webDir, 'tsconfig.json'), '-o', out],
      {
        cwd: webDir,
        stdio: 'ignore',
      },
    )
    expect(readFileSync(committed, 'utf8')).toBe(readFileSync(out, 'utf8'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 60_000)
