import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { sleep } from '../protocol/retry.ts'
import { DevnetError } from './devnetError.ts'

/** A running anvil node owned by a test file or the dev orchestrator. */
export type Anvil = { rpcUrl: string; port: number; process: ChildProcess; stop: () => Promise<void> }

/**
 * The anvil binary shipped by `@foundry-rs/anvil`'s platform package. Spawning it directly, rather than
 * the Node wrapper in `.bin`, means a signal reaches anvil itself and no wrapper can be orphaned.
 */
const anvilBin = (() => {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const direct = path.resolve(`node_modules/@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil`)
  return existsSync(direct) ? direct : path.resolve('node_modules/.bin/anvil')
})()

/** Asks the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/**
 * The dev stack's block gas limit: 50 jobs a second (each ≈ 0.8M gas across submit, assign, two commits, two reveals
 * and finalize) in one-second blocks with room to spare.
 */
export const devnetBlockGasLimit = 200_000_000n

/**
 * Starts anvil on a free port (or `port`) and resolves once it answers JSON-RPC.
 * Accounts come from anvil's default mnemonic, so `devAccounts` keys match.
 */
export async function startAnvil(
  parameters: {
    port?: number
    /** Mine a block every this many seconds as well as on each transaction, so chain time keeps moving. */
    blockTime?: number
    /**
     * The block gas limit (anvil's default 30M when absent). The dev stack's is {@link devnetBlockGasLimit}: with
     * blocks a second apart (interval mining) a block must hold a second of the market at full load.
     */
    gasLimit?: bigint
    silent?: boolean
  } = {},
): Promise<Anvil> {
  const port = parameters.port ?? (await freePort())
  const args = ['--port', String(port), '--host', '127.0.0.1', '--accounts', '10', '--balance', '1000000']
  if (parameters.blockTime) args.push('--block-time', String(parameters.blockTime), '--mixed-mining')
  if (parameters.gasLimit) args.push('--gas-limit', String(parameters.gasLimit))
  const child = spawn(anvilBin, args, { stdio: parameters.silent === false ? 'inherit' : 'ignore' })
  // Whatever way this process ends short of SIGKILL, anvil ends with it.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  const rpcUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new DevnetError(`anvil exited with code ${child.exitCode} before answering on port ${port}`)
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      })
      if (res.ok) break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new DevnetError(`anvil did not answer on ${rpcUrl} within 20s`)
    }
    await sleep(100)
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return { rpcUrl, port, process: child, stop }
}
