import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { tesseraTokenAbi } from '../contracts/generated/index.ts'
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
})
