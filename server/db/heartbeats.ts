import type { Kysely } from 'kysely'
import type { Database } from './database.ts'
import type { HeartbeatRow, NewHeartbeat } from './tables/heartbeat.table.ts'

/** Records a heartbeat unless a newer signed timestamp is already stored (replays are ignored). */
export async function upsertHeartbeat(db: Kysely<Database>, heartbeat: NewHeartbeat): Promise<void> {
  await db
    .insertInto('app.heartbeat')
    .values({ ...heartbeat, provider: heartbeat.provider.toLowerCase() })
    .onConflict((oc) =>
      oc
        .column('provider')
        .doUpdateSet((eb) => ({
          timestamp: eb.ref('excluded.timestamp'),
          signature: eb.ref('excluded.signature'),
          lastSeen: eb.ref('excluded.lastSeen'),
        }))
        .where('app.heartbeat.timestamp', '<', (eb) => eb.ref('excluded.timestamp')),
    )
    .execute()
}

export async function findHeartbeats(db: Kysely<Database>, providers: readonly string[]): Promise<HeartbeatRow[]> {
  if (!providers.length) return []
  return db
    .selectFrom('app.heartbeat')
    .selectAll()
    .where(
      'provider',
      'in',
      providers.map((p) => p.toLowerCase()),
    )
    .execute()
}

/** Providers whose last accepted heartbeat is at or after `since`. */
export async function findLiveProviders(db: Kysely<Database>, since: Date): Promise<Set<string>> {
  const rows = await db.selectFrom('app.heartbeat').select('provider').where('lastSeen', '>=', since).execute()
  return new Set(rows.map((r) => r.provider))
}
