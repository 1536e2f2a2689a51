import { encodeAbiParameters, type Hex, keccak256, maxUint256, type PrivateKeyAccount, toHex, zeroAddress, zeroHash } from 'viem'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectRevert, fund, sampleJobSpec, useTestSystem } from '../devnet/testSystem.ts'
import { JobStatus } from '../protocol/enums.ts'
import { TSR } from '../protocol/units.ts'
import { jobMarketOf, marketEvents } from '../test/support/market.ts'
import { challengeLedgerAbi, challengeLedgerBytecode, tesseraTokenAbi } from './generated/index.ts'

// ChallengeLedger: rounds committed before and revealed after, and a record per settled challenge job, all by the
// issuer (the server's key, ISSUER_ROLE at deploy), each refusal with its own error.

const sys = useTestSystem()
let issuer: PrivateKeyAccount
let stranger: PrivateKeyAccount
const market = jobMarketOf(sys)
const ledger = {
  read: <T>(functionName: string, args: readonly unknown[] = []) =>
    sys.read<T>({ address: sys.deployment.contracts.ChallengeLedger.address, abi: challengeLedgerAbi, functionName, args }),
  write: (account: PrivateKeyAccount, functionName: string, args: readonly unknown[] = []) =>
    sys.write(account, { address: sys.deployment.contracts.ChallengeLedger.address, abi: challengeLedgerAbi, functionName, args }),
}
const seedHashOf = (seed: Hex) => keccak256(encodeAbiParameters([{ type: 'bytes32' }], [seed]))
const seed = keccak256(toHex('round seed'))

beforeAll(async () => {
  issuer = sys.accounts.matcher
  stranger = sys.accounts.requesters[0]
  for (const who of [issuer, stranger]) {
    await fund(sys, who.address, 1000n * TSR)
    await sys.write(who, { address: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] })
  }
})

/** A job `from` submits (an optimistic one, as challenges are), cancelled at once when `settle`: a settled job. */
async function jobOf(from: PrivateKeyAccount, settle: boolean): Promise<bigint> {
  const receipt = await market.write(from, 'submitJob', [await sampleJobSpec(sys, { redundancy: 1, verification: 1 })])
  const jobId = marketEvents(receipt, 'JobSubmitted')[0].args.jobId as bigint
  if (settle) await market.write(from, 'cancel', [jobId])
  return jobId
}

describe('ChallengeLedger', () => {
  test('deployed beside JobMarket; the issuer is the server key; the constructor refuses zero addresses', async () => {
    expect(await ledger.read('jobMarket')).toBe(sys.market)
    const role = await ledger.read<Hex>('ISSUER_ROLE')
    expect(role).toBe(keccak256(toHex('ISSUER_ROLE')))
    expect(await ledger.read('hasRole', [role, issuer.address])).toBe(true)
    expect(await ledger.read('hasRole', [role, stranger.address])).toBe(false)
    const deploy = (args: readonly unknown[]) =>
      sys.deployContract(sys.accounts.deployer, challengeLedgerAbi, challengeLedgerBytecode, args)
    await expectRevert(deploy([zeroAddress, sys.accounts.deployer.address]), 'ZeroAddress')
    await expectRevert(deploy([sys.market, zeroAddress]), 'ZeroAddress')
  })

  test('commits rounds from 1, issuer only, never a zero hash', async () => {
    expect(await ledger.read('lastRound')).toBe(0n)
    await expectRevert(ledger.write(stranger, 'commitRound', [seedHashOf(seed)]), 'AccessControlUnauthorizedAccount')
    await expectRevert(ledger.write(issuer, 'commitRound', [zeroHash]), 'ZeroSeedHash')
    const receipt = await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    expect(receipt.status).toBe('success')
    expect(await ledger.read('lastRound')).toBe(1n)
    expect(await ledger.read('getRound', [1n])).toMatchObject({ seedHash: seedHashOf(seed), seed: zeroHash, revealed: false })
    await ledger.write(issuer, 'commitRound', [seedHashOf(keccak256(toHex('another')))])
    expect(await ledger.read('lastRound')).toBe(2n)
  })

  test('records a settled job of the issuer once; refuses live jobs, others’ jobs, unknown and revealed rounds', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    const provider = sys.accounts.providers[0].address
    await expectRevert(ledger.write(issuer, 'record', [9n, 1n, provider, true, 100n]), 'UnknownRound')
    const live = await jobOf(issuer, false)
    expect(await expectRevert(ledger.write(issuer, 'record', [1n, live, provider, true, 100n]), 'JobNotSettled')).toEqual([
      live,
      JobStatus.Open,
    ])
    const others = await jobOf(stranger, true)
    await expectRevert(ledger.write(issuer, 'record', [1n, others, provider, true, 100n]), 'NotIssuersJob')
    const settled = await jobOf(issuer, true)
    await expectRevert(ledger.write(stranger, 'record', [1n, settled, provider, true, 100n]), 'AccessControlUnauthorizedAccount')
    await ledger.write(issuer, 'record', [1n, settled, provider, false, 3600n])
    expect(await ledger.read('roundOf', [settled])).toBe(1n)
    expect(await ledger.read('roundOf', [live])).toBe(0n)
    expect(await expectRevert(ledger.write(issuer, 'record', [1n, settled, provider, true, 1n]), 'AlreadyRecorded')).toEqual([settled, 1n])
    // After the reveal the round is closed.
    await ledger.write(issuer, 'revealRound', [1n, seed])
    const another = await jobOf(issuer, true)
    await expectRevert(ledger.write(issuer, 'record', [1n, another, provider, true, 1n]), 'RoundRevealedAlready')
  })

  test('reveals the seed that hashes to the commitment, once', async () => {
    await ledger.write(issuer, 'commitRound', [seedHashOf(seed)])
    await expectRevert(ledger.write(issuer, 'revealRound', [1n, keccak256(toHex('wrong'))]), 'SeedMismatch')
    await expectRevert(ledger.write(issuer, 'revealRound', [2n, seed]), 'UnknownRound')
    await expectRevert(ledger.write(stranger, 'revealRound', [1n, seed]), 'AccessControlUnauthorizedAccount')
    await ledger.write(issuer, 'revealRound', [1n, seed])
    expect(await ledger.read('getRound', [1n])).toMatchObject({ seedHash: seedHashOf(seed), seed, revealed: true })
    await expectRevert(ledger.write(issuer, 'revealRound', [1n, seed]), 'RoundRevealedAlready')
  })
})
