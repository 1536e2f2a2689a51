import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IndexedTestChain } from '../test/support/stack.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

/** The API process's memory after two full collections (bytes). */
export type ApiMemory = { rss: number; heapUsed: number; external: number }

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
  const server = fork(path.join(here, 'apiServer.ts'), [], {
    // BENCH_API_NODE_FLAGS: extra Node flags for the API process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    execArgv: ['--expose-gc', '--import', 'tsx', ...(process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])],
    env: {
      ...process.env,
      BENCH_DATABASE_URL: chain.database.url,
      BENCH_DEPLOYMENT_PATH: chain.deploymentPath,
      BENCH_VIEWS_SCHEMA: parameters.viewsSchema,
      BENCH_BUS_SCOPE: parameters.busScope,
      BENCH_TMP_DIR: chain.tmpDir,
      BENCH_CACHE_RESPONSES: parameters.cacheResponses === false ? '0' : '1',
      BENCH_QUERY_THREADS: String(parameters.queryThreads ?? 1),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.once('message', (m: { type: string; port: number }) => (m.type === 'listening' ? resolve(m.port) : reject(new Error(m.type))))
    server.once('exit', (code) => reject(new Error(`the API process exited (${code})`)))
  })
  const memory = () =>
    new Promise<ApiMemory>((resolve) => {
      const on = (m: ApiMemory & { type: string }) => {
        if (m.type !== 'memory') return
        server.off('message', on)
        resolve(m)
      }
      server.on('message', on)
      server.send({ type: 'memory' })
    })
  return { port, memory, stop: () => server.kill() }
}
