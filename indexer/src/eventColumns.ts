/** The parts of a Ponder event that every event row stores. */
export type EventMeta = {
  id: string
  block: { number: bigint; timestamp: bigint }
  log: { logIndex: number }
  transaction: { hash: `0x${string}` }
}

/** `id`, `blockNumber`, `logIndex`, `timestamp` and `txHash` of an event row, keyed by `event.id`. */
export function eventColumns(event: EventMeta) {
  return {
    id: event.id,
    blockNumber: event.block.number,
    logIndex: event.log.logIndex,
    timestamp: event.block.timestamp,
    txHash: event.transaction.hash,
  }
}
