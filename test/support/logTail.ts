import pino, { type Logger } from 'pino'
import { afterEach } from 'vitest'

/** How many of the latest lines a test file keeps for a failure. */
const kept = 800
const tail: string[] = []

/**
 * The logger of a test's stack, agents and leader: printed at `TESSERA_TEST_LOG`'s level when it names one; otherwise
 * its info lines and above are kept, the latest {@link kept}, and printed only when a test fails (see
 * {@link printLogTailOnFailure}), since a failure under a full suite on two cores is rare and seldom repeats alone.
 */
export function tailedTestLog(): Logger {
  if (process.env.TESSERA_TEST_LOG) return pino({ level: process.env.TESSERA_TEST_LOG })
  return pino(
    { level: 'info' },
    {
      write: (line: string) => {
        tail.push(line)
        if (tail.length > kept * 2) tail.splice(0, tail.length - kept)
      },
    },
  )
}

/** Registers, for every test of the file, the printing of the kept lines after a test that failed. */
export function printLogTailOnFailure(): void {
  afterEach((context) => {
    if (context.task.result?.state !== 'fail' || tail.length === 0) return
    const lines = tail.slice(-kept)
    console.log(`${context.task.name}: the last ${lines.length} log lines of this file's stacks:\n${lines.join('')}`)
  })
}
