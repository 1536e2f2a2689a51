import pino, { type Logger } from 'pino'

/** How many of the latest lines a test file keeps for a failure. */
const kept = 800
const tail: string[] = []

/**
 * The logger of a test's stack, agents and leader. Its info lines and above (or those at `TESSERA_TEST_LOG`'s level)
 * are kept, the latest {@link kept}: printed only when a test fails (test/support/setup.ts), since a failure under a
 * full suite on two cores is rare and seldom repeats alone, and read by a test that waits for something the stack only
 * logs ({@link loggedSince}). With `TESSERA_TEST_LOG` they are printed as they come too.
 */
export function tailedTestLog(): Logger {
  const printed = process.env.TESSERA_TEST_LOG
  return pino(
    { level: printed ?? 'info' },
    {
      write: (line: string) => {
        if (printed) process.stdout.write(line)
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

/** The kept records whose message is `message`, logged at `since` (ms since the epoch) or later, parsed. */
export function loggedSince(message: string, since: number): Record<string, unknown>[] {
  return keptLogLines()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.msg === message && typeof record.time === 'number' && record.time >= since)
}
