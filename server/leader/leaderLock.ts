import pg from 'pg'
import { TesseraError } from '../../protocol/errors.ts'

/** The lock's session ended under it. Retryable: the next `acquire` reconnects and competes again. */
export class LeaderLockLostError extends TesseraError {
  override name = 'LeaderLockLostError'
}

/**
 * Leader election by a Postgres session advisory lock held on a dedicated connection: whoever
 * holds `pg_try_advisory_lock(hashtext(name))` leads; the lock goes when the session does.
 *
 * A killed leader's session ends as soon as its socket closes. A leader that goes silent without closing it (a
 * frozen process, a lost host, a cut network) is ended by Postgres itself: the session sets `idle_session_timeout`
 * and pings every `keepAliveMs`, so one idle for `sessionTimeoutMs` can only be a dead one. A leader cut off from
 * Postgres notices first (its ping times out after `keepAliveMs` + `queryTimeoutMs`) and stops leading.
 */
export type LeaderLock = {
  /** Tries to take (or confirms it still holds) the lock; false when another session has it. */
  acquire: () => Promise<boolean>
  held: () => boolean
  release: () => Promise<void>
}

export type CreateLeaderLockParameters = {
  databaseUrl: string
  name: string
  onLost?: (error: Error) => void
  /** Postgres ends the lock's session after this long without a query (default 5000 ms). */
  sessionTimeoutMs?: number
  /** How often the session pings while connected (default 1000 ms). */
  keepAliveMs?: number
  /** A connect or query that takes longer fails, and the session is dropped (default 2000 ms). */
  queryTimeoutMs?: number
}

/** SQLSTATE 42704: `set` of a parameter this Postgres doesn't know. */
const undefinedParameter = '42704'

export function createLeaderLock(parameters: CreateLeaderLockParameters): LeaderLock {
  const sessionTimeoutMs = parameters.sessionTimeoutMs ?? 5000
  const keepAliveMs = parameters.keepAliveMs ?? 1000
  const queryTimeoutMs = parameters.queryTimeoutMs ?? 2000
  let client: pg.Client | undefined
  let keepAlive: NodeJS.Timeout | undefined
  let held = false
  const drop = (error?: Error) => {
    const wasHeld = held
    held = false
    const c = client
    client = undefined
    clearInterval(keepAlive)
    c?.end().catch(() => {})
    if (wasHeld && error) parameters.onLost?.(error)
  }
  const connect = async () => {
    const c = new pg.Client({
      connectionString: parameters.databaseUrl,
      application_name: 'tessera-server-leader',
      connectionTimeoutMillis: queryTimeoutMs,
      query_timeout: queryTimeoutMs,
      keepAlive: true,
    })
    const lost = (error: Error) => {
      if (client === c) drop(error)
    }
    c.on('error', lost)
    c.on('end', () => lost(new LeaderLockLostError('the leader lock session ended', { retryable: true })))
    try {
      await c.connect()
      // Postgres before 14 has no idle_session_timeout: a dead leader's lock then lasts until its TCP connection times out.
      await c.query(`set idle_session_timeout = ${Math.round(sessionTimeoutMs)}`).catch((error: { code?: string }) => {
        if (error.code !== undefinedParameter) throw error
      })
    } catch (error) {
      await c.end().catch(() => {})
      throw error
    }
    clearInterval(keepAlive)
    keepAlive = setInterval(() => {
      if (client === c) c.query('select 1').catch(lost)
    }, keepAliveMs)
    keepAlive.unref()
    return c
  }
  let connecting: Promise<pg.Client> | undefined
  return {
    held: () => held,
    async acquire() {
      try {
        if (!client) {
          connecting ??= connect().finally(() => (connecting = undefined))
          client = await connecting
        }
        if (held) {
          // A round trip proves the session (and so the lock) is still alive.
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
      clearInterval(keepAlive)
      if (c && held) await c.query('select pg_advisory_unlock(hashtext($1))', [parameters.name]).catch(() => {})
      held = false
      client = undefined
      await c?.end().catch(() => {})
    },
  }
}
