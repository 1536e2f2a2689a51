import { devnetChainId } from '../protocol/chain.ts'

/** Ponder's floor: its config refuses a `pollingInterval` under 100 ms. */
export const minPollingIntervalMs = 100

/**
 * How often Ponder asks the chain for its latest block (ms): `TESSERA_POLLING_INTERVAL_MS` when set, else Ponder's
 * floor on the devnet and 1 s elsewhere. On the devnet the wait for the next poll is most of the lag from a block
 * mined to it indexed (bench/indexer.ts: 200 ms put the lag p50 near 200 ms), and anvil answers a poll in well under
 * a millisecond. A WebSocket subscription (`ws` in ponder.config.ts) would push blocks instead, but on an idle devnet
 * Ponder then never indexes the blocks it found unfinalized at start until a new one comes.
 */
export function pollingIntervalOf(chainId: number, env: NodeJS.ProcessEnv = process.env): number {
  if (env.TESSERA_POLLING_INTERVAL_MS) return Number(env.TESSERA_POLLING_INTERVAL_MS)
  return chainId === devnetChainId ? minPollingIntervalMs : 1000
}
