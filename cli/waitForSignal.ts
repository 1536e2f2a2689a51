/**
 * Resolves on the first SIGINT or SIGTERM, so a long-running command can shut down in order.
 * The handlers stay installed: a terminal's Ctrl-C reaches this process twice (the terminal signals
 * the whole process group, and tsx relays what it got), and without a handler the second one would
 * kill the process halfway through its shutdown. A signal more than a second after the first is a
 * second Ctrl-C from the user and exits at once.
 */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: number | undefined
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now()
        resolve(signal)
      } else if (Date.now() - first > 1000) {
        process.stderr.write(`tessera: ${signal} again, exiting without waiting for shutdown\n`)
        process.exit(130)
      }
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
