import pino, { type Logger } from 'pino'

/** How many of the latest lines a test file keeps for a failure. */
const kept = 800
const tail: string[] = []

/**
 * The logger of a test's stack, agents and leader: printed at `TESSERA_TEST_LOG`'s level when it names one; otherwise
 * its info lines and above are kept, the latest {@link kept}, and printed only when a test fails (test/support/setup.ts),
 * since a failure under a full suite on two cores is rare and seldom repeats alone.
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

/** The latest lines kept (oldest first), at most {@link kept}. */
export function keptLogLines(): string[] {
  return tail.slice(-kept)
}
