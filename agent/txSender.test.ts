import pino from 'pino'
import {
  type Account,
  type Address,
  createWalletClient,
  decodeFunctionData,
  type Hash,
  type Hex,
  http,
  keccak256,
  type PublicClient,
  parseTransaction,
  TransactionReceiptNotFoundError,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { devKeys } from '../devnet/devAccounts.ts'
import { fund, useTestSystem } from '../devnet/testSystem.ts'
import { sleep } from '../protocol/retry.ts'
import { TSR } from '../protocol/units.ts'
import type { HeadWatch } from './headWatch.ts'
import { TxSender } from './txSender.ts'

// The sender's queue on fake clients: what matters there is the order transactions leave in, not the chain. What a
// nonce gap leaves in the node's pool is tried on anvil, last.

const abi = [
  { type: 'function', name: 'poke', inputs: [{ type: 'string', name: 'tag' }], outputs: [], stateMutability: 'nonpayable' },
] as const
const account = { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', type: 'json-rpc' } as Account

/**
 * A sender whose gas estimate of `poke(tag)` waits for `gate` when the tag is `held` and fails for `failing`; `sent`
 * lists the tags in the order they were sent.
 */
function fakeSender(options: { gate?: Promise<void>; held?: string; failing?: string } = {}) {
  const sent: string[] = []
  const publicClient = {
    pollingInterval: 1,
    estimateContractGas: async ({ args }: { args: [string] }) => {
      const [tag] = args
      if (tag === options.held) await options.gate
      if (tag === options.failing) throw new Error(`${tag}: node down`)
      return 21_000n
    },
    estimateFeesPerGas: async () => ({ maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
    getTransactionCount: async () => sent.length,
    getTransactionReceipt: async () => ({ status: 'success', blockNumber: 1n, logs: [] }),
  } as unknown as PublicClient
  const walletClient = {
    sendTransaction: async ({ data }: { data: Hex }) => {
      const [tag] = decodeFunctionData({ abi, data }).args
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

describe('TxSender pipelining (a local account)', () => {
  const local = privateKeyToAccount(devKeys[2])

  /**
   * A node that holds back its answer to `eth_sendRawTransaction` for nonces in `slow` until `release`, refuses the
   * nonces in `refuse` once each, and counts mined transactions from a start nonce of `startNonce`.
   */
  function pipelinedSender(options: { slow?: number[]; refuse?: number[]; startNonce?: number }) {
    const handedOff: number[] = []
    const accepted = new Set<number>()
    const refuse = new Set(options.refuse)
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let countReads = 0
    const publicClient = {
      pollingInterval: 1,
      chain: { id: 31337 },
      estimateContractGas: async () => 21_000n,
      estimateFeesPerGas: async () => ({ maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
      // The pending count stops at the first nonce not accepted.
      getTransactionCount: async () => {
        countReads++
        let next = options.startNonce ?? 0
        while (accepted.has(next)) next++
        return next
      },
      sendRawTransaction: async ({ serializedTransaction }: { serializedTransaction: Hex }) => {
        const { nonce } = parseTransaction(serializedTransaction)
        handedOff.push(nonce as number)
        if (options.slow?.includes(nonce as number)) await released
        if (refuse.delete(nonce as number)) throw new Error(`nonce ${nonce}: node down`)
        accepted.add(nonce as number)
        return keccak256(serializedTransaction)
      },
      getTransactionReceipt: async () => ({ status: 'success', blockNumber: 1n, logs: [] }),
    } as unknown as PublicClient
    const sender = new TxSender(publicClient, {} as WalletClient, local, pino({ level: 'silent' }))
    const poke = (tag: string) => sender.send({ address: local.address, abi, functionName: 'poke', args: [tag] })
    return { poke, handedOff, release, countReads: () => countReads }
  }

  it('hands each transaction to the node without waiting for the answer to the one before, nonces counted here', async () => {
    const { poke, handedOff, release, countReads } = pipelinedSender({ slow: [5], startNonce: 5 })
    const first = poke('commit 1')
    const [second, third] = [poke('commit 2'), poke('reveal 1')]
    await Promise.all([second, third])
    // The answer for nonce 5 is still held back while 6 and 7 are through.
    expect(handedOff).toEqual([5, 6, 7])
    release()
    await first
    expect(countReads()).toBe(1)
  })

  it('after a hand-off that failed, the next send takes the nonce it left free', async () => {
    const { poke, handedOff } = pipelinedSender({ refuse: [0] })
    await expect(poke('commit 1')).rejects.toMatchObject({ name: 'TransactionError', retryable: true })
    await poke('commit 1 again')
    await poke('reveal 1')
    expect(handedOff).toEqual([0, 0, 1])
  })
})

describe('TxSender reusing a gas estimate', () => {
  /** A node whose estimate of `poke` is 100,000 gas and whose receipts use `gasUsed` (reverted when `outOfGas`). */
  function gasSender() {
    const calls = { estimates: 0, simulations: 0, oneRuns: 0 }
    const sentGas: bigint[] = []
    let outOfGas = false
    const publicClient = {
      pollingInterval: 1,
      estimateContractGas: async () => {
        calls.estimates++
        return 100_000n
      },
      simulateContract: async () => {
        calls.simulations++
        return { request: {} }
      },
      createAccessList: async () => {
        calls.oneRuns++
        return { accessList: [], gasUsed: 80_000n }
      },
      estimateFeesPerGas: async () => ({ maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
      getTransactionCount: async () => sentGas.length,
      getTransactionReceipt: async () => {
        const gas = sentGas[sentGas.length - 1] as bigint
        return outOfGas
          ? { status: 'reverted', gasUsed: gas, blockNumber: 1n, logs: [] }
          : { status: 'success', gasUsed: 90_000n, blockNumber: 1n, logs: [] }
      },
    } as unknown as PublicClient
    const walletClient = {
      sendTransaction: async ({ gas }: { gas: bigint }) => {
        sentGas.push(gas)
        return `0x${sentGas.length.toString(16).padStart(64, '0')}` as Hash
      },
    } as unknown as WalletClient
    const sender = new TxSender(publicClient, walletClient, account, pino({ level: 'silent' }))
    const poke = (reuseGasEstimate: boolean) =>
      sender.send({ address: account.address, abi, functionName: 'poke', args: ['x'] }, { reuseGasEstimate })
    const batch = () => sender.send({ address: account.address, abi, functionName: 'poke', args: ['batch'] }, { oneRunGas: true })
    return { calls, sentGas, poke, batch, runOutOfGas: (value: boolean) => (outOfGas = value) }
  }

  it('estimates once, then only simulates and sends the estimate with half again to spare', async () => {
    const { calls, sentGas, poke } = gasSender()
    await poke(true)
    await poke(true)
    await poke(true)
    expect(calls).toEqual({ estimates: 1, simulations: 2, oneRuns: 0 })
    expect(sentGas).toEqual([125_000n, 150_000n, 150_000n])
    // Without the option every send is estimated, with a quarter to spare.
    await poke(false)
    expect(calls.estimates).toBe(2)
    expect(sentGas[3]).toBe(125_000n)
  })

  it('a send that runs out of gas on the reused estimate is retryable, and the next one estimates again', async () => {
    const { calls, poke, runOutOfGas } = gasSender()
    await poke(true)
    runOutOfGas(true)
    await expect(poke(true)).rejects.toMatchObject({ message: 'poke ran out of gas', retryable: true })
    runOutOfGas(false)
    await poke(true)
    expect(calls).toEqual({ estimates: 2, simulations: 1, oneRuns: 0 })
  })

  it('a simulated batch goes with half again the gas one run of it used; out of it, it is retryable and batches are estimated from then on', async () => {
    const { calls, sentGas, batch, runOutOfGas } = gasSender()
    await batch()
    await batch()
    expect(calls).toEqual({ estimates: 0, simulations: 0, oneRuns: 2 })
    expect(sentGas).toEqual([120_000n, 120_000n])
    runOutOfGas(true)
    await expect(batch()).rejects.toMatchObject({ message: 'poke ran out of gas', retryable: true })
    runOutOfGas(false)
    await batch()
    expect(calls).toEqual({ estimates: 1, simulations: 0, oneRuns: 3 })
    expect(sentGas[3]).toBe(125_000n)
  })

  it('a revert on chain with gas to spare is not taken for want of gas', async () => {
    const { poke, runOutOfGas } = gasSender()
    runOutOfGas(true)
    // Estimated (no reuse yet): the limit is the estimate and a quarter, all of it used, but it was not a reused one.
    await expect(poke(true)).rejects.toMatchObject({ message: 'poke reverted on chain', retryable: false })
  })
})

describe('TxSender receipts', () => {
  it("with the agent's head, looks for a receipt once a block, at each new head, rather than on its own timer", async () => {
    let mined = false
    let receiptReads = 0
    const publicClient = {
      pollingInterval: 60_000,
      estimateContractGas: async () => 21_000n,
      estimateFeesPerGas: async () => ({ maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
      getTransactionCount: async () => 1,
      getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
        receiptReads++
        if (!mined) throw new TransactionReceiptNotFoundError({ hash })
        return { status: 'success', blockNumber: 2n, logs: [] }
      },
      getTransaction: async () => ({ nonce: 0, from: account.address }),
    } as unknown as PublicClient
    const walletClient = { sendTransaction: async () => `0x${'01'.padStart(64, '0')}` as Hash } as unknown as WalletClient
    // A head that moves only when the test mines: the sender must wait on it, since its own timer is a minute.
    let block = 1n
    const waiting: ((head: bigint) => void)[] = []
    const heads: HeadWatch = {
      latest: async () => block,
      after: (after) => (after === undefined || block > after ? Promise.resolve(block) : new Promise((resolve) => waiting.push(resolve))),
    }
    const mine = () => {
      block++
      for (const wake of waiting.splice(0)) wake(block)
    }
    const sender = new TxSender(publicClient, walletClient, account, pino({ level: 'silent' }), undefined, { heads })
    const sent = sender.send({ address: account.address, abi, functionName: 'poke', args: ['commit'] })
    await new Promise((resolve) => setTimeout(resolve, 20))
    const before = receiptReads
    expect(waiting).toHaveLength(1)
    // A block without it: one more look, then it waits for the next head.
    mine()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(receiptReads).toBe(before + 1)
    expect(waiting).toHaveLength(1)
    mined = true
    mine()
    expect((await sent).receipt.blockNumber).toBe(2n)
  })
})

describe('TxSender after a nonce gap (anvil)', () => {
  const sys = useTestSystem()
  const [bob, carol]: Address[] = ['0x000000000000000000000000000000000000b0b0', '0x00000000000000000000000000000000000ca201']
  const balanceOf = (who: Address) =>
    sys.publicClient.readContract({ address: sys.token, abi: tesseraTokenAbi, functionName: 'balanceOf', args: [who] })

  it('withdraws a transaction it gives up as queued, so filling the gap never mines it', async () => {
    const owner = sys.accounts.requesters[1]
    await fund(sys, owner.address, 10n * TSR)
    const walletClient = createWalletClient({ chain: sys.chain, transport: http(sys.rpcUrl), account: owner })
    const sender = new TxSender(sys.publicClient as PublicClient, walletClient, owner, pino({ level: 'silent' }), undefined, {
      // Slow enough that the second send goes out before the sender sees the first gone.
      pollIntervalMs: 500,
    })
    const hashes: Hash[] = []
    const transfer = (to: Address, amount: bigint) =>
      sender.send(
        { address: sys.token, abi: tesseraTokenAbi, functionName: 'transfer', args: [to, amount] },
        { onSent: (hash) => hashes.push(hash) },
      )
    const start = await sys.publicClient.getTransactionCount({ address: owner.address, blockTag: 'pending' })
    await sys.testClient.setAutomine(false)
    try {
      // The node loses the first transfer (as a reorg loses one) before the sender looks again; the second goes out at
      // the nonce after it and is queued behind the gap.
      const first = transfer(bob, 1n)
      while (hashes.length < 1) await sleep(10)
      await sys.testClient.dropTransaction({ hash: hashes[0] as Hash })
      const second = transfer(carol, 1n)
      while (hashes.length < 2) await sleep(10)
      await Promise.all([
        expect(first).rejects.toThrow('transfer vanished before it was mined'),
        expect(second).rejects.toThrow('transfer is queued behind a nonce no transaction holds'),
      ])
      // What the caller sends next takes the missing nonce; the second must not come back with it.
      const third = transfer(bob, 5n)
      while (hashes.length < 3) await sleep(10)
      await sys.testClient.mine({ blocks: 1 })
      expect((await third).receipt.status).toBe('success')
    } finally {
      await sys.testClient.setAutomine(true)
    }
    await sys.testClient.mine({ blocks: 1 })
    expect([await balanceOf(bob), await balanceOf(carol)]).toEqual([5n, 0n])
    expect(await sys.publicClient.getTransactionReceipt({ hash: hashes[1] as Hash }).catch(() => undefined)).toBeUndefined()
    // Its nonce holds an empty transfer to the account itself, and nothing of the account's waits any more.
    expect(await sys.publicClient.getTransactionCount({ address: owner.address, blockTag: 'latest' })).toBe(start + 2)
    expect(await sys.publicClient.getTransactionCount({ address: owner.address, blockTag: 'pending' })).toBe(start + 2)
    const block = await sys.publicClient.getBlock({ includeTransactions: true })
    const filler = [
      ...(await sys.publicClient.getBlock({ blockNumber: block.number - 1n, includeTransactions: true })).transactions,
      ...block.transactions,
    ].find((t) => t.from.toLowerCase() === owner.address.toLowerCase() && t.nonce === start + 1)
    expect(filler).toMatchObject({ to: owner.address.toLowerCase(), value: 0n, input: '0x' })
  })
})
