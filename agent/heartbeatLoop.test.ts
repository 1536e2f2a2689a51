import { createServer } from 'node:net'
import pino from 'pino'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { devKeys } from '../devnet/devAccounts.ts'
import { createAgentMetrics } from './agentMetrics.ts'
import { heartbeatLoop } from './heartbeatLoop.ts'
import { startTestServer } from './testServer.ts'

const log = pino({ level: 'silent' })
const account = privateKeyToAccount(devKeys[2])
const chainId = 31337

async function heartbeatCounts(metrics: ReturnType<typeof createAgentMetrics>) {
  const { values } = await metrics.heartbeats.get()
  const count = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0
  return { ok: count('ok'), error: count('error') }
}

/** A URL nothing listens on. */
async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

describe('heartbeatLoop', () => {
  it('sends signed heartbeats on schedule until aborted', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    const metrics = createAgentMetrics()
    try {
      const loop = heartbeatLoop({ serverUrl: server.url, chainId, account, intervalMs: 10, metrics, log, signal: controller.signal })
      while ((await heartbeatCounts(metrics)).ok < 2) await new Promise((resolve) => setTimeout(resolve, 5))
      controller.abort()
      await loop
      const { ok, error } = await heartbeatCounts(metrics)
      const sent = server.heartbeats.length
      expect(server.heartbeats.every((h) => h.provider === account.address)).toBe(true)
      // However short the interval, one a second: the server refuses a timestamp not after the last it accepted.
      const timestamps = server.heartbeats.map((h) => h.timestamp)
      expect(timestamps.every((t, i) => i === 0 || t > timestamps[i - 1])).toBe(true)
      expect(error).toBe(0)
      // One heartbeat may have reached the server just as the loop was aborted, before its answer counted.
      expect(sent - ok).toBeGreaterThanOrEqual(0)
      expect(sent - ok).toBeLessThanOrEqual(1)
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect(server.heartbeats.length).toBe(sent)
    } finally {
      controller.abort()
      await server.stop()
    }
  })

  it('reports the models it holds warm with each heartbeat, signed with it, as they change', async () => {
    const server = await startTestServer()
    const controller = new AbortController()
    const metrics = createAgentMetrics()
    const a = `0x${'aa'.repeat(32)}` as const
    const b = `0x${'0b'.repeat(32)}` as const
    let held: Hex[] = []
    try {
      const loop = heartbeatLoop({
        serverUrl: server.url,
        chainId,
        account,
        intervalMs: 5,
        models: () => held,
        metrics,
        log,
        signal: controller.signal,
      })
      const sentWith = (models: Hex[]) => server.heartbeats.some((h) => JSON.stringify(h.models) === JSON.stringify(models))
      while (!sentWith([])) await new Promise((resolve) => setTimeout(resolve, 5))
      held = [a, b]
      // Signed over the sorted list (the stand-in server checks the signature as the real one does).
      while (!sentWith([b, a])) await new Promise((resolve) => setTimeout(resolve, 5))
      controller.abort()
      await loop
      expect((await heartbeatCounts(metrics)).error).toBe(0)
    } finally {
      controller.abort()
      await server.stop()
    }
  })

  it('signs for its chain: a server of another chain refuses its heartbeats', async () => {
    const server = await startTestServer({ chainId: 1 })
    const controller = new AbortController()
    const metrics = createAgentMetrics()
    try {
      const loop = heartbeatLoop({ serverUrl: server.url, chainId, account, intervalMs: 5, metrics, log, signal: controller.signal })
      while ((await heartbeatCounts(metrics)).error < 1) await new Promise((resolve) => setTimeout(resolve, 5))
      controller.abort()
      await loop
      expect(server.heartbeats).toEqual([])
    } finally {
      controller.abort()
      await server.stop()
    }
  })

  it('counts failed heartbeats and keeps trying', async () => {
    const controller = new AbortController()
    const metrics = createAgentMetrics()
    const loop = heartbeatLoop({ serverUrl: await deadUrl(), chainId, account, intervalMs: 5, metrics, log, signal: controller.signal })
    while ((await heartbeatCounts(metrics)).error < 2) await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()
    await loop
    expect((await heartbeatCounts(metrics)).ok).toBe(0)
  })
})
