import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
import { decodeRevert } from '../protocol/revert.ts'
import { startTestSystem, type TestSystem } from './testSystem.ts'

// The receipt wait's fallback: a transaction the node never mines fails saying what the node knows of it. (Its other
// branch, a receipt the node has though viem's wait gave up, can't be brought about on purpose: viem would see it.)
let sys: TestSystem
beforeAll(async () => {
  sys = await startTestSystem({ receiptWaitMs: 300 })
})
afterAll(async () => {
  await sys?.stop()
})

describe('startTestSystem: a transaction’s receipt', () => {
  const transfer = () =>
    sys.write(sys.accounts.deployer, {
      address: sys.token,
      abi: tesseraTokenAbi,
      functionName: 'transfer',
      args: [sys.accounts.requesters[0].address, 1n],
    })

  test('one never mined fails after the wait, saying the node knows it and has not mined it', async () => {
    await sys.testClient.setAutomine(false)
    try {
      await expect(transfer()).rejects.toThrow(
        /^no receipt for 0x[0-9a-f]{64} after 300 ms: known to the node \(block none yet\), the node at block \d+$/,
      )
    } finally {
      await sys.testClient.setAutomine(true)
      await sys.testClient.mine({ blocks: 1 })
    }
  })

  test('one estimated to pass that reverts in its block fails with the contract’s own error, replayed at that block', async () => {
    // Two transactions estimated against the same state, each fine alone, mined together: the spender takes the
    // holder's whole balance, and the holder sends one more token. Whichever the block runs second reverts.
    const [holder, spender] = sys.accounts.requesters
    const token = { address: sys.token, abi: tesseraTokenAbi }
    await sys.write(sys.accounts.deployer, { ...token, functionName: 'transfer', args: [holder.address, 10n] })
    const balance = await sys.read<bigint>({ ...token, functionName: 'balanceOf', args: [holder.address] })
    await sys.write(holder, { ...token, functionName: 'approve', args: [spender.address, balance] })
    const pending = async () => (await sys.publicClient.getBlock({ blockTag: 'pending' })).transactions.length
    await sys.testClient.setAutomine(false)
    try {
      const sent = [
        sys.write(spender, { ...token, functionName: 'transferFrom', args: [holder.address, spender.address, balance] }),
        sys.write(holder, { ...token, functionName: 'transfer', args: [spender.address, 1n] }),
      ]
      while ((await pending()) < 2) await new Promise((r) => setTimeout(r, 5))
      await sys.testClient.mine({ blocks: 1 })
      const outcomes = await Promise.allSettled(sent)
      const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as Error)
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
      expect(failed).toHaveLength(1)
      expect(failed[0]?.message).toMatch(/reverted in 0x[0-9a-f]{64} \(block \d+\)/)
      expect(decodeRevert(failed[0])?.errorName).toBe('ERC20InsufficientBalance')
    } finally {
      await sys.testClient.setAutomine(true)
    }
  })
})
