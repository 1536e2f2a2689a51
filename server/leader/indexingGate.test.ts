import pino from 'pino'
import { describe, expect, test } from 'vitest'
import type { IndexingHealth } from '../indexingHealth.ts'
import { createIndexingGate } from './indexingGate.ts'

const health = (ok: boolean): IndexingHealth => ({
  chainId: 31337,
  block: 5n,
  blockTimestamp: null,
  chainHead: ok ? 5n : 9n,
  lagBlocks: ok ? 0 : 4,
  ok,
  error: ok ? null : 'boom',
  reason: ok ? undefined : 'indexing has stalled: …',
})

/** A gate over a scripted sequence of verdicts, with its log lines and gauge values collected. */
function scripted(verdicts: boolean[]) {
  const lines: { level: number; msg: string; indexing?: Record<string, unknown> }[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  const gauge: number[] = []
  let i = 0
  const gate = createIndexingGate({
    health: { check: async () => health(verdicts[i++] ?? true) },
    log,
    paused: { set: (value) => gauge.push(value) },
  })
  return { gate, lines, gauge }
}

describe('createIndexingGate', () => {
  test('closed while stale, open again once fresh; logs and sets the gauge once per change', async () => {
    const { gate, lines, gauge } = scripted([true, false, false, false, true, true, false])
    const open: boolean[] = []
    const paused: boolean[] = []
    for (let tick = 0; tick < 7; tick++) {
      open.push(await gate.open())
      paused.push(gate.isPaused())
    }
    expect(open).toEqual([true, false, false, false, true, true, false])
    expect(paused).toEqual([false, true, true, true, false, false, true])
    expect(gauge).toEqual([1, 0, 1])
    expect(lines.map((l) => l.msg)).toEqual([
      'indexed data is stale: matcher and keeper paused',
      'indexer caught up: matcher and keeper resumed',
      'indexed data is stale: matcher and keeper paused',
    ])
    expect(lines[0]).toMatchObject({ level: 40, indexing: { block: '5', chainHead: '9', error: 'boom' } })
  })

  test('fresh from the start: never logs, never touches the gauge', async () => {
    const { gate, lines, gauge } = scripted([true, true, true])
    for (let tick = 0; tick < 3; tick++) expect(await gate.open()).toBe(true)
    expect(lines).toEqual([])
    expect(gauge).toEqual([])
  })
})
