import { fork } from 'node:child_process'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A bench server process's memory after two full collections (bytes). */
export type ServerMemory = { rss: number; heapUsed: number; external: number }

/**
 * Forks the bench server `script` (which calls `reportToBench` once it listens) with `--expose-gc` and `env` added to
 * this process's environment, and resolves once it listens: its port, its memory and CPU time on demand, and `stop`.
 * `BENCH_API_NODE_FLAGS` adds Node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export async function forkServerProcess(script: string, env: Record<string, string>) {
  const server = fork(script, [], {
    execArgv: ['--expose-gc', '--import', 'tsx', ...(process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.once('message', (m: { type: string; port: number }) => (m.type === 'listening' ? resolve(m.port) : reject(new Error(m.type))))
    server.once('exit', (code) => reject(new Error(`${script} exited (${code})`)))
  })
  /** Asks the process for `type` and resolves with its answer. */
  const ask = <T>(type: 'memory' | 'cpu') =>
    new Promise<T>((resolve) => {
      const on = (m: T & { type: string }) => {
        if (m.type !== type) return
        server.off('message', on)
        resolve(m)
      }
      server.on('message', on)
      server.send({ type })
    })
  return {
    port,
    memory: () => ask<ServerMemory>('memory'),
    /** The CPU time the process has used so far, all its threads (ms). */
    cpuMs: async () => (await ask<{ ms: number }>('cpu')).ms,
    stop: () => server.kill(),
  }
}

/**
 * The forked side of `forkServerProcess`: tells the bench `server`'s port, answers `{ type: 'memory' }` with the
 * process's memory after two full collections and `{ type: 'cpu' }` with its CPU time, and exits on SIGTERM as on a
 * normal end (a `--cpu-prof` run writes its profile then).
 */
export function reportToBench(server: Server) {
  const collect = (globalThis as { gc?: () => void }).gc
  process.on('message', (message: { type: string }) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage()
      return void process.send?.({ type: 'cpu', ms: (user + system) / 1000 })
    }
    if (message.type !== 'memory') return
    collect?.()
    collect?.()
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
    process.send?.({ type: 'memory', rss, heapUsed, external, arrayBuffers })
  })
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port })
  process.on('SIGTERM', () => process.exit(0))
}

/** The variable `name` that `forkServerProcess` gave this forked bench server, or an error naming it and `script`. */
export function benchEnv(script: string, name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${script} needs ${name}`)
  return value
}
