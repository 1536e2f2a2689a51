import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Address } from 'viem'
import { TesseraError } from '../protocol/errors.ts'
import { backoff, nextDelay } from '../protocol/retry.ts'
import type { IndexedAssignment } from './db/assignments.ts'
import { createFanout, type Subscription } from './fanout.ts'
import { ServerConfigError } from './serverConfigError.ts'

/**
 * An assignment as the change feed publishes it and the `jobAssignments` subscription delivers it, or its retraction:
 * `retracted` is true when a chain reorganisation removed an assignment published before (the same fields, so
 * subscribers can tell which). Absent means false; every event the bus delivers has it set.
 */
export type AssignmentEvent = Pick<
  IndexedAssignment,
  'id' | 'jobId' | 'provider' | 'round' | 'slot' | 'pricePerUnit' | 'collateral' | 'commitDeadline' | 'blockNumber' | 'logIndex'
> & { retracted?: boolean }

/**
 * What a subscription yields: an assignment, or `resync` when some may have been lost on the way (the bus reconnected,
 * the subscriber fell too far behind): the subscriber then replays from Postgres after the last one it delivered.
 */
export type LiveAssignment = { type: 'assignment'; assignment: AssignmentEvent } | { type: 'resync' }

/** A provider's live assignments, queued from the moment of subscribing; `close()` detaches. */
export type AssignmentSubscription = Subscription<LiveAssignment>

/**
 * How live events reach subscribers: `postgres` (LISTEN/NOTIFY, the default) and `redis` (REDIS_URL) reach every
 * replica on the same bus; `memory` reaches this process only (tests, a `createYoga` on its own).
 */
export type AssignmentBus = 'memory' | 'postgres' | 'redis'

/** Live assignment events per provider, shared by the replicas of one deployment. */
export type AssignmentPubSub = {
  bus: AssignmentBus
  /** Names the bus itself: two replicas of a deployment hear each other exactly when their `busId`s are equal. */
  busId: string
  /**
   * Sends `events` to every replica's subscribers of their providers, in order. Resolves once they are on the bus (the
   * NOTIFY committed, the PUBLISH acknowledged), so a change feed that moves its cursor afterwards loses nothing.
   */
  publish: (events: readonly AssignmentEvent[]) => Promise<void>
  /**
   * Starts listening immediately (not on first `next()`), so a caller can attach, then replay from Postgres, and miss
   * nothing in between.
   */
  subscribe: (provider: string) => AssignmentSubscription
  close: () => Promise<void>
}

/** The bus failed to connect or lost a connection. Retryable: the bus reconnects by itself once running. */
export class AssignmentBusError extends TesseraError {
  override name = 'AssignmentBusError'
}

/** The event's own fields of an assignment, `retracted` set (a fresh object: subscribers never share the publisher's). */
export function toAssignmentEvent(assignment: AssignmentEvent): AssignmentEvent {
  const { id, jobId, provider, round, slot, pricePerUnit, collateral, commitDeadline, blockNumber, logIndex } = assignment
  return {
    id,
    jobId,
    provider: provider.toLowerCase() as Address,
    round,
    slot,
    pricePerUnit,
    collateral,
    commitDeadline,
    blockNumber,
    logIndex,
    retracted: assignment.retracted === true,
  }
}

/** A slow subscriber's queue past this is dropped for one `resync`: everything in it is in Postgres already. */
const maxQueued = 10_000

/** This process's subscriptions by provider; `deliver` and `resync` fan out to them. */
function createHub() {
  const fanout = createFanout<string, LiveAssignment>({
    // Resyncs in a row are one; a slow subscriber's full queue is dropped for one resync (it is all in Postgres).
    enqueue: (queue, message) => {
      if (message.type === 'resync' && queue.at(-1)?.type === 'resync') return queue
      if (queue.length >= maxQueued) return [{ type: 'resync' }]
      queue.push(message)
      return queue
    },
  })
  return {
    deliver(events: readonly AssignmentEvent[]) {
      for (const event of events) {
        const topic = event.provider.toLowerCase()
        if (fanout.has(topic)) fanout.publish(topic, { type: 'assignment', assignment: toAssignmentEvent(event) })
      }
    },
    resync() {
      for (const topic of fanout.keys()) fanout.publish(topic, { type: 'resync' })
    },
    subscribe: (provider: string): AssignmentSubscription => fanout.subscribe(provider.toLowerCase()),
  }
}

/** Postgres refuses a NOTIFY payload of 8000 bytes or more; batches stay under this. */
const maxPayloadBytes = 7900
/** The payload that tells every replica's subscribers to replay (an event too large for a payload of its own). */
const resyncPayload = 'resync'

type WireEvent = { [K in keyof AssignmentEvent]: AssignmentEvent[K] extends bigint ? string : AssignmentEvent[K] }

/** Events as bus payloads: JSON arrays (bigints as decimal strings), each under {@link maxPayloadBytes}, in order. */
export function encodeBusPayloads(events: readonly AssignmentEvent[]): string[] {
  const payloads: string[] = []
  let batch: string[] = []
  let bytes = 2
  const flush = () => {
    if (batch.length) payloads.push(`[${batch.join(',')}]`)
    batch = []
    bytes = 2
  }
  for (const event of events) {
    const json = JSON.stringify(toAssignmentEvent(event), (_key, v) => (typeof v === 'bigint' ? v.toString() : v))
    const size = Buffer.byteLength(json) + 1
    if (bytes + size > maxPayloadBytes) flush()
    // Still too large in a batch of its own: subscribers fetch it from Postgres instead.
    if (bytes + size > maxPayloadBytes) payloads.push(resyncPayload)
    else {
      batch.push(json)
      bytes += size
    }
  }
  flush()
  return payloads
}

/** A bus payload back as events, or `resync`; throws on anything else. */
function decodeBusPayload(payload: string): AssignmentEvent[] | 'resync' {
  if (payload === resyncPayload) return 'resync'
  const parsed: unknown = JSON.parse(payload)
  if (!Array.isArray(parsed)) throw new AssignmentBusError('a bus payload is neither an event list nor "resync"', { details: payload })
  return (parsed as WireEvent[]).map((e) => ({
    ...e,
    jobId: BigInt(e.jobId),
    pricePerUnit: BigInt(e.pricePerUnit),
    collateral: BigInt(e.collateral),
    commitDeadline: BigInt(e.commitDeadline),
    blockNumber: BigInt(e.blockNumber),
    // A replica from before retractions sends none.
    retracted: e.retracted === true,
  }))
}

/** The in-process pubsub: for one process that both publishes and serves (tests, `createYoga` on its own). */
export function createAssignmentPubSub(): AssignmentPubSub {
  const hub = createHub()
  return {
    bus: 'memory',
    busId: 'memory',
    publish: async (events) => hub.deliver(events),
    subscribe: (provider) => hub.subscribe(provider),
    close: async () => {},
  }
}

export type ConnectAssignmentPubSubParameters = {
  databaseUrl: string
  /** Share events through Redis pub/sub instead of Postgres LISTEN/NOTIFY. */
  redisUrl?: string
  /** Which deployment's events (one channel per scope): e.g. `<chainId>:<JobMarket address>`. */
  scope: string
  log: Logger
}

/**
 * The pubsub every replica of a deployment shares: Postgres LISTEN/NOTIFY on one dedicated connection per replica, or
 * Redis pub/sub with `redisUrl`. Each replica receives every event and hands its own subscribers theirs. When the
 * listening connection comes back after a loss (events sent meanwhile are gone), every subscription gets a `resync`.
 *
 * Either way the replica keeps a Postgres session whose `application_name` announces its bus, and refuses to join
 * (`ServerConfigError`) when a live replica of the same deployment announces another: the subscribers of one would
 * never hear the other's leader. Resolves once listening; rejects with `AssignmentBusError` (or the driver's error)
 * when the first connection fails.
 */
export async function connectAssignmentPubSub(parameters: ConnectAssignmentPubSubParameters): Promise<AssignmentPubSub> {
  const { databaseUrl, redisUrl, log } = parameters
  const tag = sha256Hex(parameters.scope).slice(0, 12)
  const hub = createHub()
  const receive = (payload: string) => {
    try {
      const decoded = decodeBusPayload(payload)
      if (decoded === 'resync') hub.resync()
      else hub.deliver(decoded)
    } catch (error) {
      log.warn({ err: error }, 'assignment bus: unreadable payload; subscribers replay from Postgres')
      hub.resync()
    }
  }
  const bus = redisUrl ? 'redis' : 'postgres'
  const busId = redisUrl ? `redis:${sha256Hex(redisEndpoint(redisUrl)).slice(0, 12)}` : 'postgres'
  const announcement = `tessera-bus:${tag}:`
  const channel = `tessera_assignments_${tag}`
  const session = await openBusSession({
    databaseUrl,
    applicationName: announcement + busId,
    listen: redisUrl ? undefined : { channel, onPayload: receive },
    onConnected: redisUrl ? () => {} : () => hub.resync(),
    log,
  })
  let transport: { send: (payload: string) => Promise<void>; close: () => Promise<void> }
  try {
    // After announcing: of two replicas on different buses starting at once, the later check sees the other.
    const others = await session.query<{ name: string }>(
      `select distinct application_name as name from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid() and starts_with(application_name, $1)
       and application_name <> $2`,
      [announcement, announcement + busId],
    )
    if (others.length) {
      const postgresBus = 'Postgres LISTEN/NOTIFY (no REDIS_URL)'
      const describeOther = (id: string) =>
        id === 'postgres' ? postgresBus : redisUrl ? 'a different Redis (REDIS_URL)' : 'Redis (REDIS_URL)'
      const theirs = others.map((r) => r.name.slice(announcement.length))
      throw new ServerConfigError(
        `another live replica of this deployment shares events over ${theirs.map(describeOther).join(' and ')}, this one over ` +
          `${redisUrl ? `Redis at ${redisEndpoint(redisUrl)} (REDIS_URL)` : postgresBus}: their subscribers would miss each other's ` +
          'assignments. Give every replica the same REDIS_URL, or none (Postgres LISTEN/NOTIFY)',
        { details: `this bus: ${busId}; others: ${theirs.join(', ')}` },
      )
    }
    transport = redisUrl
      ? await connectRedisBus({ redisUrl, channel, name: announcement, onPayload: receive, onSubscribed: () => hub.resync(), log })
      : postgresPublisher({ databaseUrl, channel })
  } catch (error) {
    await session.close()
    throw error
  }
  return {
    bus,
    busId,
    async publish(events) {
      for (const payload of encodeBusPayloads(events)) await transport.send(payload)
    },
    subscribe: (provider) => hub.subscribe(provider),
    async close() {
      await Promise.allSettled([transport.close(), session.close()])
    },
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Host, port and database of a Redis URL: what makes two URLs the same bus (credentials aside). */
function redisEndpoint(redisUrl: string): string {
  const url = new URL(redisUrl)
  return `${url.hostname}:${url.port || 6379}/${url.pathname.replace(/^\//, '') || 0}`
}

/** Every connection attempt and query of the bus gives up after this, so a dead peer is noticed. */
const connectionTimeoutMs = 5000
/** How often the bus session proves itself alive (a half-open TCP connection would otherwise hear nothing forever). */
const pingIntervalMs = 5000

/**
 * The replica's Postgres session for the bus, announced by `applicationName` and, with `listen`, LISTENing on its
 * channel. Lost, it reconnects with backoff and calls `onConnected` again once listening.
 */
async function openBusSession(parameters: {
  databaseUrl: string
  applicationName: string
  listen?: { channel: string; onPayload: (payload: string) => void }
  onConnected: () => void
  log: Logger
}) {
  const { listen, log } = parameters
  let client: pg.Client | undefined
  let closed = false
  let retryTimer: NodeJS.Timeout | undefined
  let retryMs: number = backoff.initialMs

  const lost = (c: pg.Client, error: Error) => {
    if (c !== client || closed) return
    client = undefined
    c.end().catch(() => {})
    log.warn({ err: error }, 'assignment bus: lost its Postgres session; reconnecting (subscribers will replay what they missed)')
    reconnect()
  }
  const connect = async () => {
    const c = new pg.Client({
      connectionString: parameters.databaseUrl,
      application_name: parameters.applicationName,
      connectionTimeoutMillis: connectionTimeoutMs,
      query_timeout: connectionTimeoutMs,
      keepAlive: true,
    })
    c.on('error', (error) => lost(c, error))
    c.on('end', () => lost(c, new AssignmentBusError('the Postgres bus session ended', { retryable: true })))
    c.on('notification', (n) => {
      if (listen && !closed && n.channel === listen.channel) listen.onPayload(n.payload ?? '')
    })
    try {
      await c.connect()
      if (listen) await c.query(`listen ${c.escapeIdentifier(listen.channel)}`)
    } catch (error) {
      await c.end().catch(() => {})
      throw error
    }
    if (closed) {
      await c.end().catch(() => {})
      return
    }
    client = c
    retryMs = backoff.initialMs
    parameters.onConnected()
  }
  const reconnect = () => {
    retryTimer = setTimeout(
      () =>
        connect().catch((error: unknown) => {
          log.warn({ err: error }, 'assignment bus: reconnecting to Postgres failed; retrying')
          reconnect()
        }),
      retryMs,
    )
    retryMs = nextDelay(retryMs)
  }
  const ping = setInterval(() => {
    const c = client
    c?.query('select 1').catch((error: Error) => lost(c, error))
  }, pingIntervalMs)
  ping.unref()
  try {
    await connect()
  } catch (error) {
    clearInterval(ping)
    throw error
  }
  return {
    async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
      if (!client) throw new AssignmentBusError('the Postgres bus session is reconnecting', { retryable: true })
      return (await client.query<R>(text, values)).rows
    },
    async close() {
      closed = true
      clearInterval(ping)
      clearTimeout(retryTimer)
      await client?.end().catch(() => {})
      client = undefined
    },
  }
}

/** NOTIFY through a one-connection pool of its own: each payload committed before `send` resolves. */
function postgresPublisher(parameters: { databaseUrl: string; channel: string }) {
  const pool = new pg.Pool({
    connectionString: parameters.databaseUrl,
    max: 1,
    application_name: 'tessera-bus-publisher',
    connectionTimeoutMillis: connectionTimeoutMs,
    query_timeout: connectionTimeoutMs,
  })
  // A dropped idle connection must not crash the process; the next send reconnects (or fails, and the feed retries).
  pool.on('error', () => {})
  return {
    async send(payload: string) {
      await pool.query('select pg_notify($1, $2)', [parameters.channel, payload])
    },
    close: () => pool.end(),
  }
}

/**
 * Redis pub/sub on `channel`: a publishing and a subscribing connection. The subscription is renewed by hand after each
 * reconnect, and `onSubscribed` runs once it is, since anything published meanwhile is gone.
 */
async function connectRedisBus(parameters: {
  redisUrl: string
  channel: string
  /** Prefix of the connections' names (CLIENT LIST). */
  name: string
  onPayload: (payload: string) => void
  onSubscribed: () => void
  log: Logger
}) {
  const { channel, log } = parameters
  const options = { connectTimeout: connectionTimeoutMs }
  const publisher = new Redis(parameters.redisUrl, { ...options, maxRetriesPerRequest: 3, connectionName: `${parameters.name}publisher` })
  const subscriber = new Redis(parameters.redisUrl, { ...options, autoResubscribe: false, connectionName: `${parameters.name}subscriber` })
  const close = async () => {
    await Promise.allSettled([publisher, subscriber].map((c) => c.quit().catch(() => c.disconnect())))
  }
  let lastError: unknown
  const warn = (error: Error) => {
    lastError = error
    log.warn({ err: error }, 'assignment bus: Redis connection error; reconnecting')
  }
  publisher.on('error', warn)
  subscriber.on('error', warn)
  subscriber.on('message', (from: string, payload: string) => {
    if (from === channel) parameters.onPayload(payload)
  })
  let first: (() => void) | undefined
  const subscribed = new Promise<void>((resolve) => (first = resolve))
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => {
      parameters.onSubscribed()
      first?.()
      first = undefined
    }, warn)
  })
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 2 * connectionTimeoutMs)))
  const outcome = await Promise.race([subscribed, timedOut])
  clearTimeout(timer)
  if (outcome === 'timeout') {
    await close()
    throw new AssignmentBusError(`no Redis answered at ${redisEndpoint(parameters.redisUrl)} (REDIS_URL)`, {
      cause: lastError,
      retryable: true,
    })
  }
  return {
    async send(payload: string) {
      await publisher.publish(channel, payload)
    },
    close,
  }
}
