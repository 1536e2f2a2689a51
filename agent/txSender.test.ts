import pino from 'pino'
import type { Account, Hash, PublicClient, WalletClient } from 'viem'
import { describe, expect, it } from 'vitest'
import { TxSender } from './txSender.ts'

// The sender's queue on fake clients: what matters here is the order transactions leave in, not the chain.

const abi = [
  { type: 'function', name: 'poke', inputs: [{ type: 'string', name: 'tag' }], outputs: [], stateMutability: 'nonpayable' },
] as const
const account = { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', type: 'json-rpc' } as Account

/**
 * A sender whose simulation of `poke(tag)` waits for `gate` when the tag is `held` and fails for `failing`; `sent`
 * lists the tags in the order they were sent.
 */
function fakeSender(options: { gate?: Promise<void>; held?: string; failing?: string } = {}) {
  const sent: string[] = []
  const publicClient = {
    pollingInterval: 1,
    simulateContract: async ({ args }: { args: [string] }) => {
      const [tag] = args
      if (tag === options.held) await options.gate
      if (tag === options.failing) throw new Error(`${tag}: node down`)
      return { request: { tag } }
    },
    estimateContractGas: async () => 21_000n,
    estimateFeesPerGas: async () => ({ maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
    getTransactionCount: async () => sent.length,
    getTransactionReceipt: async () => ({ status: 'success', blockNumber: 1n, logs: [] }),
  } as unknown as PublicClient
  const walletClient = {
    writeContract: async ({ tag }: { tag: string }) => {
      sent.push(tag)
      return `0x${sent.length.toString(16).padStart(64, '0')}` as Hash
    },
  } as unknown as WalletClient
  const sender = new TxSender(publicClient, walletClient, account, pino({ level: 'silent' }))
  const poke = (tag: string, priority?: 'low') =>
    sender.send({ address: account.address, abi, functionName: 'poke', args: [tag] }, { priority })
  return { sent, poke }
}

describe('TxSender priorities', () => {
  it('sends a low-priority transaction only once no normal one waits, even those queued after it', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const { sent, poke } = fakeSender({ gate, held: 'commit 1' })
    const sends = [poke('commit 1'), poke('claim', 'low'), poke('withdraw', 'low'), poke('reveal 1'), poke('commit 2')]
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(sent).toEqual([])
    open()
    await Promise.all(sends)
    expect(sent).toEqual(['commit 1', 'reveal 1', 'commit 2', 'claim', 'withdraw'])
  })

  it('goes at once with nothing queued, and a normal send that failed holds no low one back', async () => {
    const { sent, poke } = fakeSender({ failing: 'commit' })
    await poke('claim', 'low')
    const failed = poke('commit')
    const low = poke('withdraw', 'low')
    await expect(failed).rejects.toThrow('poke could not be sent')
    await low
    expect(sent).toEqual(['claim', 'withdraw'])
  })
})
