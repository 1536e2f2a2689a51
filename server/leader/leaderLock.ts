import pg from 'pg'

/**
 * Leader election by a Postgres session advisory lock held on a dedicated connection: whoever
 * holds `pg_try_advisory_lock(hashtext(name))` leads; the lock goes when the connection does, so a
 * dead leader is replaced as soon as Postgres notices.
 */
export type LeaderLock = {
  /** Tries to take (or confirms it still holds) the lock; false when another session has it. */
  acquire: () => Promise<boolean>
  held: () => boolean
  release: () => Promise<void>
}

export function createLeaderLock(parameters: { databaseUrl: string; name: string; onLost?: (error: Error) => void }): LeaderLock {
  let client: pg.Client | undefined
  let held = false
  const drop = (error?: Error) => {
    const wasHeld = held
    held = false
    const c = client
    client = undefined
    c?.end().catch(() => {})
    if (wasHeld && error) parameters.onLost?.(error)
  }
  return {
    held: () => held,
    async acquire() {
      try {
        if (!client) {
          const c = new pg.Client({ connectionString: parameters.databaseUrl, application_name: 'tessera-server-leader' })
          c.on('error', (error) => drop(error))
          await c.connect()
          client = c
        }
        if (held) {
          // A cheap round trip proves the session (and so the lock) is still alive.
          await client.query('select 1')
          return true
        }
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [parameters.name])
        held = rows[0]?.ok === true
        return held
      } catch (error) {
        drop(error as Error)
        return false
      }
    },
    async release() {
      const c = client
      if (c && held) await c.query('select pg_advisory_unlock(hashtext($1))', [parameters.name]).catch(() => {})
      held = false
      client = undefined
      await c?.end().catch(() => {})
    },
  }
}
