import { randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort } from '../../devnet/startAnvil.ts'
import { ensureDatabase, startEmbeddedPostgres } from '../../devnet/startPostgres.ts'

/** A fresh, empty database for one test file, dropped by `drop()`. */
export type TestDatabase = { url: string; drop: () => Promise<void> }

/**
 * Gives a test file its own database. With `TESSERA_TEST_DATABASE_URL` (a server URL, e.g. the machine's
 * Postgres 15 on 127.0.0.1:5432) it creates a database there; otherwise it boots an embedded Postgres 18.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tessera_test_${randomBytes(5).toString('hex')}`
  const serverUrl = process.env.TESSERA_TEST_DATABASE_URL
  if (serverUrl) {
    const admin = new URL(serverUrl)
    await ensureDatabase(admin.toString(), name)
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    return {
      url: url.toString(),
      drop: async () => {
        const client = new pg.Client({ connectionString: admin.toString() })
        await client.connect()
        await client.query(`drop database if exists ${name} with (force)`)
        await client.end()
      },
    }
  }
  const dataDir = path.join(os.tmpdir(), name)
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'tessera' })
  return {
    url: server.url,
    drop: async () => {
      await server.stop()
      const { rm } = await import('node:fs/promises')
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
