import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freePort } from '../../devnet/startAnvil.ts'
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts'
import { ensureDatabase } from './ensureDatabase.ts'

let database: TestDatabase
let missing: string
const setBy = '--database-url'

beforeAll(async () => {
  database = await createTestDatabase()
  const url = new URL(database.url)
  url.pathname = `/tessera_missing_${randomBytes(4).toString('hex')}`
  missing = url.toString()
})

afterAll(async () => {
  const admin = new URL(database.url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  await client.query(`drop database if exists "${new URL(missing).pathname.slice(1)}" with (force)`)
  await client.end()
  await database?.drop()
})

test('an existing database passes; a missing one is refused by name, or created when allowed, once', async () => {
  expect(await ensureDatabase({ databaseUrl: database.url, create: false, setBy })).toEqual({ created: false })
  const name = new URL(missing).pathname.slice(1)
  await expect(ensureDatabase({ databaseUrl: missing, create: false, setBy })).rejects.toThrow(`the database "${name}" does not exist`)
  expect(await ensureDatabase({ databaseUrl: missing, create: true, setBy })).toEqual({ created: true })
  expect(await ensureDatabase({ databaseUrl: missing, create: true, setBy })).toEqual({ created: false })
})

test('a Postgres that is not there is named without its password', async () => {
  const url = `postgres://tessera:s3cret@127.0.0.1:${await freePort()}/tessera`
  const refused = ensureDatabase({ databaseUrl: url, create: true, setBy })
  await expect(refused).rejects.toThrow(
    /cannot connect to Postgres \(tessera@127\.0\.0\.1:\d+\/tessera, set by --database-url\): .*ECONNREFUSED/,
  )
  await expect(refused).rejects.not.toThrow(/s3cret/)
})
