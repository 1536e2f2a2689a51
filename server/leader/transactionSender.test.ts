import pino from 'pino'
import { describe, expect, test } from 'vitest'
import { createTransactionSender } from './transactionSender.ts'

// In-process fakes of the two viem clients: the sender's bookkeeping is what is under test.
function fakeClients(options: { simulate?: () => Promise<unknown> } = {}) {
  const sent: unknown[] = []
  const receipts = new Map<string, (status: 'success' | 'reverted') => void>()
  let resets = 0
  const publicClient = {
    simulateContract: options.simulate ?? (async (request: unknown) => ({ request })),
    waitForTransactionReceipt: ({ hash }: { hash: string }) =>
      new Promise((resolve) => receipts.set(hash, (status) => resolve({ status }))),
  }
  const walletClient = {
    account: { address: '0x0000000000000000000000000000000000000001', nonceManager: { reset: () => void resets++ } },
    chain: { id: 31337 },
    writeContract: async (request: unknown) => {
      sent.push(request)
      return `0x${String(sent.length).padStart(64, '0')}`
    },
  }
  /** Settles the receipt of the `n`th transaction sent. */
  const mine = (n: number, status: 'success' | 'reverted') => receipts.get(`0x${String(n).padStart(64, '0')}`)?.(status)
  return { publicClient, walletClient, sent, mine, resets: () => resets }
}

/** A sender over the fakes, with silent logs. */
const senderOver = (f: ReturnType<typeof fakeClients>) =>
  createTransactionSender<string>({
    publicClient: f.publicClient as never,
    walletClient: f.walletClient as never,
    log: pino({ level: 'silent' }),
  })

const call = (key: string) => ({
  key,
  action: 'assign',
  address: '0x0000000000000000000000000000000000000002' as const,
  abi: [],
  functionName: 'assign',
  args: [1n],
  meta: key,
})
const tick = () => new Promise((r) => setTimeout(r, 0))

describe('createTransactionSender', () => {
  test('one transaction in flight per key until its effect is settled', async () => {
    const f = fakeClients()
    const sender = senderOver(f)
    expect(await sender.send(call('assign:1'))).toBeDefined()
    expect(await sender.send(call('assign:1'))).toBeUndefined()
    expect(await sender.send(call('assign:2'))).toBeDefined()
    expect(f.sent).toHaveLength(2)
    expect(sender.inFlightMeta().sort()).toEqual(['assign:1', 'assign:2'])
    // Mined but not yet indexed: still blocked, until the caller says the effect is visible.
    f.mine(1, 'success')
    await tick()
    sender.settle(() => true) // the job still shows OPEN in the index
    expect(sender.inFlight('assign:1')).toBe(true)
    sender.settle((key) => key !== 'assign:1')
    expect(sender.inFlight('assign:1')).toBe(false)
    expect(await sender.send(call('assign:1'))).toBeDefined()
  })

  test('a reverted transaction frees its key after a back-off', async () => {
    const f = fakeClients()
    const sender = senderOver(f)
    await sender.send(call('finalize:3'))
    f.mine(1, 'reverted')
    await tick()
    expect(sender.inFlightMeta()).toEqual([])
    expect(sender.inFlight('finalize:3')).toBe(true) // backing off
  })

  test('a failed simulation sends nothing, resets the nonce manager and backs off', async () => {
    const f = fakeClients({ simulate: async () => Promise.reject(new Error('execution reverted: ProviderNotEligible')) })
    const sender = senderOver(f)
    expect(await sender.send(call('assign:9'))).toBeUndefined()
    expect(f.sent).toEqual([])
    expect(f.resets()).toBe(1)
    expect(await sender.send(call('assign:9'))).toBeUndefined()
    expect(f.resets()).toBe(1) // not even tried again during the back-off
  })
})
