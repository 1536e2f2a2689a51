import { ponder } from 'ponder:registry'
import { indexedEvents } from '../indexedEvents.ts'

// The indexer's events, each handled by doing nothing: what Ponder costs on its own for the same history. The root
// tsconfig checks this file against indexer/'s `ponder:registry` types (indexer/env.d.ts), which fit: the config is
// the indexer's own. This app's ponder-env.d.ts is left out there, as the indexer's is.
for (const name of indexedEvents) ponder.on(name, async () => {})
