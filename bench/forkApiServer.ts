import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IndexedTestChain } from '../test/support/stack.ts'
import { forkServerProcess } from './forkServerProcess.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

/**
 * Forks `bench/apiServer.ts` on `chain`'s database and deployment (views in `viewsSchema`, live events on the Postgres
 * bus `busScope`; its response cache on unless `cacheResponses` is false, `queryThreads` query threads) and resolves once it listens: its port, its
 * memory on demand, and `stop`.
 */
export async function forkApiServer(parameters: {
  chain: IndexedTestChain
  viewsSchema: string
  busScope: string
  cacheResponses?: boolean
  /** Query threads for the costliest queries (default 1, as `startServer`; 0: all on the request thread). */
  queryThreads?: number
}) {
  const { chain } = parameters
  return forkServerProcess(path.join(here, 'apiServer.ts'), {
    BENCH_DATABASE_URL: chain.database.url,
    BENCH_DEPLOYMENT_PATH: chain.deploymentPath,
    BENCH_VIEWS_SCHEMA: parameters.viewsSchema,
    BENCH_BUS_SCOPE: parameters.busScope,
    BENCH_TMP_DIR: chain.tmpDir,
    BENCH_CACHE_RESPONSES: parameters.cacheResponses === false ? '0' : '1',
    BENCH_QUERY_THREADS: String(parameters.queryThreads ?? 1),
  })
}
