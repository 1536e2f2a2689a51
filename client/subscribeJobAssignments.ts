import type { Address, Hex } from 'viem'
import { backoff, nextDelay, sleep } from '../protocol/retry.ts'
import { ServerRequestError } from './serverClient.ts'

/** One assignment as the server's `jobAssignments` subscription yields it (BigInts as decimal strings), or its retraction. */
export type JobAssignment = {
  /** Where to resume after this event; for a retraction, where to resume to see what replaced it. */
  cursor: string
  /**
   * A chain reorganisation removed this assignment, delivered before (same job, provider and `commitDeadline`): drop
   * it, and resume from `cursor` on the next connection.
   */
  retracted: boolean
  jobId: string
  provider: Address
  slot: number
  pricePerUnit: string
  collateral: string
  commitDeadline: string
  job: { id: string; modelHash: Hex; inputHash: Hex; units: string; outputTolerance: number; redundancy: number; deadline: string }
}

const jobAssignmentsSubscription = /* GraphQL */ `
  subscription JobAssignments($provider: Address!, $after: String) {
    jobAssignments(provider: $provider, after: $after) {
      cursor retracted jobId provider slot pricePerUnit collateral commitDeadline
      job { id modelHash inputHash units outputTolerance redundancy deadline }
    }
  }`

export type SseEvent = { event: string; data: string }

const lineEnd = /\r\n|\n|\r/

/**
 * Splits a text/event-stream into events. Comment lines (keep-alives) are dropped; multi-line data is
 * joined with newlines, as the EventSource spec says.
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  let event = ''
  let data: string[] = []
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    for (let nl = buffer.search(lineEnd); nl >= 0; nl = buffer.search(lineEnd)) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (data.length || event) yield { event: event || 'message', data: data.join('\n') }
        event = ''
        data = []
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let value = colon < 0 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
    }
  }
}

export type SubscribeJobAssignmentsParameters = {
  serverUrl: string
  provider: Address
  /** Replay starts after this cursor; read on every (re)connect so it can follow the journal. */
  cursor: () => string | undefined
  signal: AbortSignal
  onConnect?: () => void
  onDisconnect?: (error: unknown) => void
  /** The server refused the cursor (HTTP 400 or a BAD_USER_INPUT error); `cursor()` should stop returning it. */
  onInvalidCursor?: (error: unknown) => void
}

/** An error that says the request itself is wrong (the cursor, as the agent builds nothing else), not the server. */
class RejectedRequestError extends ServerRequestError {}

/**
 * Yields assignments from `subscription jobAssignments` over SSE (POST /graphql, `Accept: text/event-stream`),
 * reconnecting from the latest cursor whenever the stream ends or fails, until `signal` aborts. Reconnects back off
 * as every Tessera retry does (protocol `backoff`), from the start again once an assignment comes through.
 */
export async function* subscribeJobAssignments(parameters: SubscribeJobAssignmentsParameters): AsyncGenerator<JobAssignment> {
  const { serverUrl, provider, signal } = parameters
  let delay: number = backoff.initialMs
  while (!signal.aborted) {
    let error: unknown
    try {
      const res = await fetch(new URL('/graphql', serverUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: jobAssignmentsSubscription, variables: { provider, after: parameters.cursor() ?? null } }),
        signal,
      })
      if (!res.ok || !res.body) {
        const body = await res.text().catch(() => '')
        const Failure = res.status === 400 && /BAD_USER_INPUT|cursor/i.test(body) ? RejectedRequestError : ServerRequestError
        throw new Failure(`subscription failed with HTTP ${res.status}`, {
          status: res.status,
          retryable: true,
          details: body.slice(0, 500),
        })
      }
      parameters.onConnect?.()
      for await (const { event, data } of parseSse(res.body)) {
        if (event === 'complete') break
        if (event !== 'next' && event !== 'message') continue
        const payload = JSON.parse(data) as {
          data?: { jobAssignments?: JobAssignment }
          errors?: { message: string; extensions?: { code?: string } }[]
        }
        if (payload.errors?.length) {
          const Failure = payload.errors.some((e) => e.extensions?.code === 'BAD_USER_INPUT') ? RejectedRequestError : ServerRequestError
          throw new Failure(`subscription error: ${payload.errors.map((e) => e.message).join('; ')}`, { retryable: true })
        }
        const assignment = payload.data?.jobAssignments
        if (assignment) {
          delay = backoff.initialMs
          yield assignment
        }
      }
      error = new ServerRequestError('subscription stream ended', { retryable: true })
    } catch (e) {
      error = e
    }
    if (signal.aborted) return
    if (error instanceof RejectedRequestError && parameters.cursor() !== undefined) parameters.onInvalidCursor?.(error)
    parameters.onDisconnect?.(error)
    await sleep(delay, signal)
    delay = nextDelay(delay)
  }
}
