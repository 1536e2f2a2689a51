import { db } from 'ponder:api'
import schema from 'ponder:schema'
import { Hono } from 'hono'
import { graphql } from 'ponder'

// Ponder requires an API file. The public API is the server's (server/); this GraphQL endpoint on the indexer's
// own port is for debugging the raw tables. /health, /ready, /status and /metrics come from Ponder itself.
const app = new Hono()

app.use('/graphql', graphql({ db, schema }))

export default app
