import { onchainTable } from 'ponder'

/** Never written: Ponder wants a schema with a table, and the peer's handlers do nothing. */
export const noop = onchainTable('noop', (t) => ({
  id: t.text().primaryKey(),
}))
