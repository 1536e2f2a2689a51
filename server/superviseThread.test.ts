import { Worker } from 'node:worker_threads'
import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { type SupervisedThread, superviseThread } from './superviseThread.ts'

// Real worker threads that die as a leader thread can: process.exit in the thread (an uncaught error ends it the same
// way), at once or when told.
const source = `
  const { parentPort, workerData } = require('node:worker_threads');
  if (workerData.crashAtOnce) process.exit(3);
  parentPort.on('message', (m) => {
    if (m === 'crash') process.exit(4);
    if (m === 'ping') parentPort.postMessage('pong');
    if (m === 'stop') process.exit(0);
  });
  parentPort.postMessage('ready');
`

type Started = { worker: Worker; at: number }

function threads(behaviour: (n: number) => 'crash' | 'run' | 'fail') {
  const started: Started[] = []
  const start = async (): Promise<SupervisedThread> => {
    const n = started.length
    const how = behaviour(n)
    if (how === 'fail') {
      started.push({ worker: undefined as unknown as Worker, at: Date.now() })
      throw new Error(`start ${n} failed`)
    }
    const worker = new Worker(source, { eval: true, workerData: { crashAtOnce: how === 'crash' } })
    started.push({ worker, at: Date.now() })
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
    if (how === 'run') await new Promise((resolve) => worker.once('message', resolve))
    return {
      exited,
      stop: async () => {
        worker.postMessage('stop')
        await exited
      },
    }
  }
  return { started, start }
}

const log = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('superviseThread', () => {
  test('a thread that dies is started again, and one that keeps dying at once waits longer each time', async () => {
    // The first runs, is told to crash; the next three crash as they start; the fifth runs.
    const { started, start } = threads((n) => (n === 0 || n === 4 ? 'run' : 'crash'))
    const supervised = await superviseThread({ name: 'test thread', start, log, delayMs: 40, maxDelayMs: 1_000 })
    started[0]?.worker.postMessage('crash')
    await expect.poll(() => started.length, { timeout: 10_000 }).toBe(5)
    const gaps = started.slice(1).map((s, i) => s.at - (started[i] as Started).at)
    // 40, 80, 160, 320 ms at least after each death (the first gap also holds the time to crash).
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(40 * 2 ** i - 5)
    await expect.poll(() => supervised.restarts()).toBe(4)
    // The one now running answers.
    const last = started[4]?.worker as Worker
    const pong = new Promise((resolve) => last.once('message', resolve))
    last.postMessage('ping')
    expect(await pong).toBe('pong')
    await supervised.stop()
    await sleep(100)
    expect(started).toHaveLength(5)
  })

  test('stopped while waiting to restart, it starts nothing more', async () => {
    const { started, start } = threads((n) => (n === 0 ? 'run' : 'crash'))
    const supervised = await superviseThread({ name: 'test thread', start, log, delayMs: 100 })
    const exited = new Promise((resolve) => started[0]?.worker.once('exit', resolve))
    started[0]?.worker.postMessage('crash')
    await exited
    await supervised.stop()
    await sleep(300)
    expect(started).toHaveLength(1)
    expect(supervised.restarts()).toBe(0)
  })

  test('a first start that fails rejects (a misconfiguration); a restart that fails is tried again', async () => {
    const failing = threads(() => 'fail')
    await expect(superviseThread({ name: 'test thread', start: failing.start, log })).rejects.toThrow('start 0 failed')

    const { started, start } = threads((n) => (n === 0 ? 'run' : n < 3 ? 'fail' : 'run'))
    const supervised = await superviseThread({ name: 'test thread', start, log, delayMs: 20 })
    started[0]?.worker.postMessage('crash')
    await expect.poll(() => supervised.restarts(), { timeout: 5_000 }).toBe(1)
    expect(started).toHaveLength(4)
    await supervised.stop()
  })
})
