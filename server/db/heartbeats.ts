import type { Kysely } from 'kysely'
import type { Hex } from 'viem'
import { heartbeatLivenessSeconds } from '../../protocol/heartbeat.ts'
import { anyOf, lowerCase } from './anyOf.ts'
import type { Database } from './database.ts'
import type { NewHeartbeat } from './tables/heartbeat.table.ts'

/** What {@link upsertHeartbeat} did: wrote the heartbeat, or kept the stored one whose timestamp is not before it. */
export type UpsertHeartbeatReturnType = { written: true } | { written: false; storedTimestamp: bigint }

/**
 * Records a heartbeat when its signed timestamp is greater than the stored one (or none is stored), deciding in the one
 * conditional upsert, so of two racing heartbeats with the same timestamp exactly one is written. Otherwise writes
 * nothing and returns the stored timestamp.
 */
export async function upsertHeartbeat(db: Kysely<Database>, heartbeat: NewHeartbeat): Promise<UpsertHeartbeatReturnType> {
  const provider = heartbeat.provider.toLowerCase()
  const written = await db
    .insertInto('app.heartbeat')
    .values({ ...heartbeat, provider })
    .onConflict((oc) =>
      oc
        .column('provider')
        .doUpdateSet((eb) => ({
          timestamp: eb.ref('excluded.timestamp'),
          signature: eb.ref('excluded.signature'),
          lastSeen: eb.ref('excluded.lastSeen'),
          models: eb.ref('excluded.models'),
        }))
        .where('app.heartbeat.timestamp', '<', (eb) => eb.ref('excluded.timestamp')),
    )
    .returning('provider')
    .executeTakeFirst()
  if (written) return { written: true }
  // Only to say why: the decision was the upsert's. A row is never deleted, so the one that refused it is there.
  const stored = await db.selectFrom('app.heartbeat').select('timestamp').where('provider', '=', provider).executeTakeFirstOrThrow()
  return { written: false, storedTimestamp: BigInt(stored.timestamp) }
}

/** When the server last accepted a heartbeat of each address (unix s, server time), in the order asked; null when never. */
export async function findLastSeen(db: Kysely<Database>, addresses: readonly string[]): Promise<(bigint | null)[]> {
  if (!addresses.length) return []
  const rows = await db
    .selectFrom('app.heartbeat')
    .select(['provider', 'lastSeen'])
    .where(anyOf('provider', lowerCase(addresses)))
    .execute()
  const seen = new Map(rows.map((r) => [r.provider, BigInt(Math.floor(r.lastSeen.getTime() / 1000))]))
  return addresses.map((a) => seen.get(a.toLowerCase()) ?? null)
}

/** The model hashes (lower-case, sorted) each address's last accepted heartbeat reported warm, in the order asked. */
export async function findWarmModels(db: Kysely<Database>, addresses: readonly string[]): Promise<Hex[][]> {
  if (!addresses.length) return []
  const rows = await db
    .selectFrom('app.heartbeat')
    .select(['provider', 'models'])
    .where(anyOf('provider', lowerCase(addresses)))
    .execute()
  const models = new Map(rows.map((r) => [r.provider, r.models as Hex[]]))
  return addresses.map((a) => models.get(a.toLowerCase()) ?? [])
}

/** Whether a provider last seen at `lastSeen` counts as live at `now` (unix s): within the liveness window. */
function isLive(lastSeen: bigint | null, now: number): boolean {
  return lastSeen !== null && now - Number(lastSeen) <= heartbeatLivenessSeconds
}

/** Whether each address is live at `now` (unix s, server time), in the order asked. */
export async function findLiveness(db: Kysely<Database>, addresses: readonly string[], now: number): Promise<boolean[]> {
  return (await findLastSeen(db, addresses)).map((seen) => isLive(seen, now))
}

/**
 * Providers (lower-case) whose last accepted heartbeat is within the liveness window at `now` (unix s, server time),
 * each with the model hashes (lower-case) it reported warm in that heartbeat.
 */
export async function findLiveProviders(db: Kysely<Database>, now: number): Promise<Map<string, readonly Hex[]>> {
  const since = new Date((now - heartbeatLivenessSeconds) * 1000)
  const rows = await db.selectFrom('app.heartbeat').select(['provider', 'models']).where('lastSeen', '>=', since).execute()
  return new Map(rows.map((r) => [r.provider, r.models as Hex[]]))
}
