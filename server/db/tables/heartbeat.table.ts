import type { ColumnType, Insertable, Selectable } from 'kysely'

/** `app.heartbeat`: the latest signed heartbeat of each provider. */
export interface HeartbeatTable {
  /** Lower-case address. */
  provider: string
  /** The signed timestamp (unix seconds, provider's clock). */
  timestamp: ColumnType<string, string | bigint, string | bigint>
  signature: string
  /** Server time when the heartbeat was accepted; liveness is judged on this. */
  lastSeen: ColumnType<Date, Date, Date>
  /** Model hashes (lower-case, sorted) the provider reported warm with it; empty when it reported none. */
  models: ColumnType<string[], string[] | undefined, string[]>
}

export type HeartbeatRow = Selectable<HeartbeatTable>
export type NewHeartbeat = Insertable<HeartbeatTable>
