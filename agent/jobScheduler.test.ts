import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { JobScheduler } from './jobScheduler.ts'

const log = pino({ level: 'silent' })

/** A promise and the functions that settle it. */
function deferred() {
  let resolve = () => {}
  let reject: (error: unknown) => void = () => {}
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('JobScheduler', () => {
  it('runs the work of one job in order, one piece at a time', async () => {
    const scheduler = new JobScheduler({ log })
    const events: string[] = []
    const first = deferred()
    scheduler.schedule('1', async () => {
      events.push('first started')
      await first.promise
      events.push('first done')
    })
    scheduler.schedule('1', async () => {
      events.push('second started')
    })
    await tick()
    expect(events).toEqual(['first started'])
    first.resolve()
    await scheduler.settled()
    expect(events).toEqual(['first started', 'first done', 'second started'])
  })

  it('runs different jobs concurrently', async () => {
    const scheduler = new JobScheduler({ log })
    const blocker = deferred()
    const started: string[] = []
    scheduler.schedule('1', async () => {
      started.push('1')
      await blocker.promise
    })
    scheduler.schedule('2', async () => {
      started.push('2')
    })
    await tick()
    expect(started).toEqual(['1', '2'])
    blocker.resolve()
    await scheduler.settled()
  })

  it('goes on with a job after a piece of its work crashed, and logs the crash with its error', async () => {
    const logged: { jobId?: string; err?: { message?: string } }[] = []
    const capture = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const scheduler = new JobScheduler({ log: capture })
    let ranAfterCrash = false
    scheduler.schedule('7', async () => {
      throw new Error('boom')
    })
    scheduler.schedule('7', async () => {
      ranAfterCrash = true
    })
    await scheduler.settled()
    expect(ranAfterCrash).toBe(true)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ jobId: '7', err: { message: 'boom' }, msg: 'job handler crashed' })
  })

  it('counts the jobs in flight and forgets a job once its chain is done', async () => {
    const sizes: number[] = []
    const scheduler = new JobScheduler({ log, onSizeChange: (size) => sizes.push(size) })
    const a = deferred()
    const b = deferred()
    scheduler.schedule('1', () => a.promise)
    scheduler.schedule('1', () => b.promise)
    scheduler.schedule('2', async () => {})
    expect(scheduler.size).toBe(2)
    await tick()
    expect(scheduler.size).toBe(1) // job 2 finished; job 1 is still waiting on a
    a.resolve()
    await tick()
    expect(scheduler.size).toBe(1) // the first piece of job 1 is done, the second still runs
    b.resolve()
    await scheduler.settled()
    expect(scheduler.size).toBe(0)
    expect(sizes.at(-1)).toBe(0)
    expect(Math.max(...sizes)).toBe(2)
  })

  it('settled() waits for work scheduled so far', async () => {
    const scheduler = new JobScheduler({ log })
    const gate = deferred()
    let done = false
    scheduler.schedule('1', async () => {
      await gate.promise
      done = true
    })
    let settled = false
    const waiting = scheduler.settled().then(() => {
      settled = true
    })
    await tick()
    expect(settled).toBe(false)
    gate.resolve()
    await waiting
    expect(done).toBe(true)
  })

  it('cancels work that has not started, which then never runs; work started goes on', async () => {
    const scheduler = new JobScheduler({ log })
    const first = deferred()
    const ran: string[] = []
    const cancelFirst = scheduler.schedule('1', async () => {
      ran.push('first')
      await first.promise
    })
    const cancelSecond = scheduler.schedule('1', async () => void ran.push('second'))
    scheduler.schedule('1', async () => void ran.push('third'))
    await tick()
    expect(cancelFirst()).toBe(false)
    expect(cancelSecond()).toBe(true)
    expect(cancelSecond()).toBe(true)
    first.resolve()
    await scheduler.settled()
    expect(ran).toEqual(['first', 'third'])
  })
})
