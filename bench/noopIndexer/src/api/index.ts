import { Hono } from 'hono'

// Ponder requires an API file; the no-op app serves only Ponder's own /health, /ready, /status and /metrics.
export default new Hono()
