import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

// Workers are TypeScript: register tsx in each one, resolved from here so the cwd does not matter.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Starts a worker thread running the TypeScript module at `url` with `workerData`. */
export function startTypeScriptWorker(url: URL, workerData: unknown): Worker {
  return new Worker(url, { execArgv: ['--import', tsxLoader], workerData })
}
