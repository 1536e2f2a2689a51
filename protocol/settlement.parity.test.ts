import {
  type Abi,
  type Address,
  encodeFunctionData,
  type Hex,
  keccak256,
  type LocalAccount,
  maxUint256,
  parseEventLogs,
  type TransactionReceipt,
  toHex,
  zeroHash,
} from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { expect, test } from 'vitest'
import type { DeployParamsOverrides } from '../contracts/deploy.ts'
import { jobMarketAbi, providerRegistryAbi, tesseraTokenAbi } from '../contracts/generated/index.ts'
import { defaultHardware, startTestSystem, type TestSystem } from '../devnet/testSystem.ts'
import { disagreementOf, fingerprintOfLabel } from '../test/support/labelledOutputs.ts'
import { type Prng, prng } from '../test/support/prng.ts'
import type { MarketParams } from './deployment.ts'
import { JobStatus, type SlotOutcome, slotOutcomes } from './enums.ts'
import { commitmentOf } from './fingerprint.ts'
import { failureFingerprintOf, jobFailureReasons } from './jobInputs.ts'
import { encodeRegion } from './region.ts'
import { decodeRevert, formatRevert } from './revert.ts'
import { collateralOf, escrowOf, type SettlementSlot, settleExpiry, settleJob, settleNoShows } from './settlement.ts'
import { BPS, TSR } from './units.ts'

/**
 * Parity: JobMarket on a real anvil and `settlement.ts` settle the same random jobs (redundancy 2–16, prices from a
 * few wei to the largest that neither overflows the contract nor exceeds the supply, several market parameter sets)
 * through random reveal patterns (agreement, dissent, silence, reported failures, no majority and its tie-break) and
 * no-shows (reopened or expired), and must agree on every amount and outcome the contract emits, wei for wei. The
 * contract is the reference. Along the way the requester, who may be griefing, must never get back more than it
 * deposited for a job, a no-show must never be given the same job again, nor a party to a dispute its tie-break.
 */

const SEED = 0x5e771e
const MNEMONIC = 'test test test test test test test test test test test junk'
/** Enough providers for the largest redundancy, MAX_REDUNDANCY = 16. */
const PROVIDER_COUNT = 16
/** Keys past anvil's ten funded accounts; they get ETH through `anvil_setBalance`. */
const providerAccounts = Array.from({ length: PROVIDER_COUNT }, (_, i) => mnemonicToAccount(MNEMONIC, { addressIndex: 10 + i }))
const requesterAccount = mnemonicToAccount(MNEMONIC, { addressIndex: 10 + PROVIDER_COUNT })

type Magnitude = 'dust' | 'tsr' | 'top'
type Scenario = { name: string; jobs: number; params: DeployParamsOverrides; magnitudes: readonly Magnitude[] }

function scenarios(rand: Prng): Scenario[] {
  const bps = () => BigInt(rand.pick([1, 9_999, rand.int(1, 9_999), rand.int(1, 9_999)]))
  const windows = () => ({ commitWindow: BigInt(rand.int(60, 3_600)), revealWindow: BigInt(rand.int(60, 3_600)) })
  return [
    { name: 'devnet', jobs: 30, params: {}, magnitudes: ['dust', 'tsr', 'tsr', 'top'] },
    {
      name: 'random bps',
      jobs: 30,
      params: { market: { takeBps: bps(), collateralBps: BigInt(rand.int(1, 30_000)), slashBeneficiaryBps: bps(), ...windows() } },
      magnitudes: ['dust', 'dust', 'tsr', 'top'],
    },
    {
      name: 'zero take, collateral and beneficiary share, all of uint256 minted',
      jobs: 12,
      params: { token: { genesisSupply: maxUint256 }, market: { takeBps: 0n, collateralBps: 0n, slashBeneficiaryBps: 0n } },
      magnitudes: ['dust', 'tsr', 'top'],
    },
    {
      name: 'full take and share, largest collateral, all of uint256 minted',
      jobs: 20,
      params: {
        token: { genesisSupply: maxUint256 },
        market: { takeBps: BPS, collateralBps: 65_535n, slashBeneficiaryBps: BPS, ...windows() },
      },
      magnitudes: ['dust', 'tsr', 'top', 'top'],
    },
    {
      name: 'random bps, all of uint256 minted',
      jobs: 25,
      params: {
        token: { genesisSupply: maxUint256 },
        registry: { minStake: 1n },
        market: { takeBps: bps(), collateralBps: BigInt(rand.int(0, 65_535)), slashBeneficiaryBps: bps(), ...windows() },
      },
      magnitudes: ['dust', 'top', 'top'],
    },
  ]
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b)
const maxBig = (a: bigint, b: bigint) => (a > b ? a : b)

/**
 * Whether a job of `slotValue` (= maxPricePerUnit × units) and redundancy k keeps every product JobMarket and the
 * registry compute within uint256, and its escrow plus k collaterals (each at least `minStake`) within `budget`.
 */
function fits(slotValue: bigint, k: number, market: MarketParams, minStake: bigint, budget: bigint): boolean {
  const value = slotValue * BigInt(k)
  const collateral = (slotValue * market.collateralBps) / BPS
  return (
    value * market.takeBps <= maxUint256 &&
    value + (value * market.takeBps) / BPS <= maxUint256 &&
    slotValue * market.collateralBps <= maxUint256 &&
    collateral * market.slashBeneficiaryBps <= maxUint256 &&
    escrowOfValue(value, market) + BigInt(k) * maxBig(collateral, minStake) <= budget
  )
}
const escrowOfValue = (value: bigint, market: MarketParams) => value + (value * market.takeBps) / BPS

/** The largest slot value {@link fits} allows, found from a closed-form bound and then stepped down exactly. */
function largestSlotValue(k: number, market: MarketParams, minStake: bigint, budget: bigint): bigint {
  const kk = BigInt(k)
  const { takeBps: t, collateralBps: c, slashBeneficiaryBps: b } = market
  let slot = (maxUint256 * BPS) / (BPS + t) / kk
  if (t > 0n) slot = minBig(slot, maxUint256 / t / kk)
  if (c > 0n) slot = minBig(slot, maxUint256 / c)
  if (c > 0n && b > 0n) slot = minBig(slot, ((maxUint256 / b) * BPS) / c)
  slot = minBig(slot, (maxBig(0n, budget - kk * minStake) * BPS) / (kk * (BPS + t) + kk * c))
  while (slot > 0n && !fits(slot, k, market, minStake, budget)) slot -= slot / 1_000_000n + 1n
  return slot
}

/**
 * Sends locally signed transactions with our own nonces, one RPC each. `send` waits for the receipt; `sendAll` sends a
 * batch back to back and then waits for every receipt (anvil mines each on arrival). A revert throws with its reason.
 */
function senderFor(sys: TestSystem) {
  const nonces = new Map<Address, number>()
  type Call = { account: LocalAccount; to: Address; abi: Abi; functionName: string; args: readonly unknown[] }
  const submit = async ({ account, to, abi, functionName, args }: Call) => {
    const data = encodeFunctionData({ abi, functionName, args } as never)
    let nonce = nonces.get(account.address)
    if (nonce === undefined) nonce = await sys.publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' })
    nonces.set(account.address, nonce + 1)
    const raw = await account.signTransaction({
      chainId: sys.chain.id,
      type: 'legacy',
      to,
      data,
      gas: 12_000_000n,
      gasPrice: 10n ** 10n,
      nonce,
    })
    const hash = (await sys.publicClient.request({ method: 'eth_sendRawTransaction', params: [raw] })) as Hex
    return async (): Promise<TransactionReceipt> => {
      let receipt = await sys.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
      while (!receipt) {
        await new Promise((resolve) => setTimeout(resolve, 2))
        receipt = await sys.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
      }
      if (receipt.status === 'success') return receipt
      const reason = await sys.publicClient.call({ account: account.address, to, data }).then(
        () => 'no revert when replayed',
        (error) => {
          const revert = decodeRevert(error)
          return revert ? formatRevert(revert) : String(error)
        },
      )
      throw new Error(`${functionName} from ${account.address} reverted: ${reason}`)
    }
  }
  const send = async (account: LocalAccount, to: Address, abi: Abi, functionName: string, args: readonly unknown[]) =>
    (await submit({ account, to, abi, functionName, args }))()
  const sendAll = async (calls: readonly Call[]) => {
    const receipts = []
    for (const call of calls) receipts.push(await submit(call))
    return Promise.all(receipts.map((receipt) => receipt()))
  }
  return { send, sendAll }
}

const marketLogs = (receipt: TransactionReceipt) => parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs })
const registryLogs = (receipt: TransactionReceipt) => parseEventLogs({ abi: providerRegistryAbi, logs: receipt.logs })
/** The args of every `eventName` log of the JobMarket in `receipt`, in order. */
function marketEvents(receipt: TransactionReceipt, eventName: string): Record<string, unknown>[] {
  return marketLogs(receipt)
    .filter((log) => log.eventName === eventName)
    .map((log) => ({ ...log.args }))
}
function registryEvents(receipt: TransactionReceipt, eventName: string): Record<string, unknown>[] {
  return registryLogs(receipt)
    .filter((log) => log.eventName === eventName)
    .map((log) => ({ ...log.args }))
}

type Stats = Record<string, number>

async function runScenario(scenario: Scenario, rand: Prng, stats: Stats): Promise<void> {
  const count = (key: string) => {
    stats[key] = (stats[key] ?? 0) + 1
  }
  const sys = await startTestSystem({ params: scenario.params })
  try {
    const market = sys.deployment.params.market
    const minStake = sys.deployment.params.registry.minStake
    const { deployer, matcher } = sys.accounts
    const requester = requesterAccount
    const { send, sendAll } = senderFor(sys)
    const read = <T>(address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
      sys.read<T>({ address, abi, functionName, args })
    const region = encodeRegion('eu')

    for (const account of [...providerAccounts, requester]) {
      await sys.testClient.setBalance({ address: account.address, value: 10n ** 30n })
    }
    const asks = new Map<Address, bigint>(providerAccounts.map((p) => [p.address, 1n]))
    await sendAll([
      ...providerAccounts.flatMap((p) => [
        { account: p, to: sys.registry, abi: providerRegistryAbi, functionName: 'register', args: [defaultHardware, 1n, region, '0x01'] },
        { account: p, to: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.registry, maxUint256] },
      ]),
      { account: requester, to: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.market, maxUint256] },
    ])

    /** Gives `account` a token balance of at least `amount`: its own credits first, then the deployer's. */
    const topUp = async (account: LocalAccount, amount: bigint) => {
      let balance = await read<bigint>(sys.token, tesseraTokenAbi, 'balanceOf', [account.address])
      if (balance >= amount) return
      const owed = await read<bigint>(sys.market, jobMarketAbi, 'owed', [account.address])
      if (owed > 0n) {
        await send(account, sys.market, jobMarketAbi, 'withdraw', [])
        balance += owed
      }
      if (balance < amount) await send(deployer, sys.token, tesseraTokenAbi, 'transfer', [account.address, amount - balance])
    }

    for (let n = 0; n < scenario.jobs; n++) {
      const magnitude = rand.pick(scenario.magnitudes)
      const r = rand.next()
      const k = r < 0.55 ? rand.int(2, 3) : r < 0.85 ? rand.int(4, 7) : rand.int(8, 16)
      const deployerBalance = await read<bigint>(sys.token, tesseraTokenAbi, 'balanceOf', [deployer.address])
      const cap = largestSlotValue(k, market, minStake, deployerBalance / (magnitude === 'top' ? 2n : 8n))
      let units: bigint
      let price: bigint
      if (magnitude === 'dust') {
        units = BigInt(rand.int(1, 7))
        price = BigInt(rand.int(1, 1_000))
      } else if (magnitude === 'tsr') {
        units = BigInt(rand.int(1, 1_000_000))
        price = rand.big(1n, TSR)
      } else {
        // As near the largest value as the contract and the supply allow, in one unit or in many.
        units = minBig(rand.pick([1n, BigInt(rand.int(2, 1_000)), rand.big(1n, 2n ** 64n - 1n)]), maxBig(cap, 1n))
        price = cap / units - rand.big(0n, minBig(cap / units / 1_000n, 1_000n))
      }
      if (price * units > cap) price = maxBig(1n, cap / units)
      if (price < 1n) continue
      count(`magnitude ${magnitude}`)

      const escrow = escrowOf({ maxPricePerUnit: price, units, redundancy: k }, market)
      /** Collateral follows each provider's own ask, never the job's max price. */
      const collateralFor = (p: LocalAccount) => collateralOf({ ask: asks.get(p.address) ?? 1n, units }, market)
      /** This job's no-shows: never assigned it again. */
      const noShows = new Set<Address>()
      /** The first round of a disputed job: its providers may not judge the tie-break. */
      let prior: SettlementSlot[] = []
      /**
       * Draws k distinct providers, none a no-show of this job, and readies them: each asks a random price up to the
       * job's and has stake enough for its collateral. Done before submitting, so a short deadline is still ahead at
       * assignment. Undefined when fewer than k providers are left.
       */
      const drawProviders = async () => {
        const pool = providerAccounts.filter((p) => !noShows.has(p.address) && !prior.some((s) => s.provider === p.address))
        if (pool.length < k) return undefined
        const chosen = Array.from({ length: k }, () => pool.splice(rand.int(0, pool.length - 1), 1)[0])
        for (const p of chosen) {
          const current = asks.get(p.address) ?? 1n
          if (current <= price && rand.next() < 0.5) continue
          const ask = rand.pick([price, 1n, rand.big(1n, price), rand.big(1n, price)])
          await send(p, sys.registry, providerRegistryAbi, 'update', [defaultHardware, ask, region])
          asks.set(p.address, ask)
        }
        for (const p of chosen) {
          const { stake } = await read<{ stake: bigint }>(sys.registry, providerRegistryAbi, 'getProvider', [p.address])
          const needed = maxBig(collateralFor(p), minStake) - stake
          if (needed <= 0n) continue
          await topUp(p, needed)
          await send(p, sys.registry, providerRegistryAbi, 'stake', [needed])
        }
        return chosen
      }
      let chosen = await drawProviders()
      if (!chosen) throw new Error('a fresh job always finds k providers')
      await topUp(requester, escrow)

      const now = await sys.now()
      // A short deadline makes a no-show expire the job instead of reopening it.
      const expiring = rand.next() < 0.12
      const spec = {
        modelHash: keccak256(toHex(`model ${n}`)),
        inputHash: keccak256(toHex(`input ${n}`)),
        units,
        maxPricePerUnit: price,
        minVramMiB: 0,
        gpuModel: 0,
        regions: [],
        redundancy: k,
        verification: 0,
        deadline: now + (expiring ? 30n : 10_000_000n),
        outputTolerance: 16,
      }
      expect(await read(sys.market, jobMarketAbi, 'quoteEscrow', [price, units, k])).toBe(escrow)
      const submitted = await send(requester, sys.market, jobMarketAbi, 'submitJob', [spec])
      const [submittedEvent] = marketEvents(submitted, 'JobSubmitted')
      const jobId = submittedEvent.jobId as bigint
      expect(submittedEvent.escrow).toBe(escrow)
      stats['largest escrow, bits'] = Math.max(stats['largest escrow, bits'] ?? 0, escrow.toString(2).length)
      let refunded = 0n
      /** Adds up what the requester got back for this job: never more than it deposited. */
      const expectRefundsWithinDeposit = (receipt: TransactionReceipt) => {
        for (const e of marketEvents(receipt, 'Refunded')) refunded += e.amount as bigint
        expect(refunded).toBeLessThanOrEqual(escrow)
      }
      /**
       * The requester gives up on a reopened job: cancels it, or lets it expire; it gets back exactly its escrow. A
       * disputed job can't be cancelled (the liar would go free): it expires, releasing its first round.
       */
      const giveUp = async () => {
        const cancel = prior.length === 0 && rand.next() < 0.5
        if (!cancel) await sys.increaseTime(spec.deadline - (await sys.now()) + 1n)
        if (prior.length > 0) await expect(send(requester, sys.market, jobMarketAbi, 'cancel', [jobId])).rejects.toThrow(/UnexpectedStatus/)
        const closed = await send(requester, sys.market, jobMarketAbi, cancel ? 'cancel' : 'expire', [jobId])
        expect(marketEvents(closed, 'Refunded')).toEqual([{ jobId, requester: requester.address, amount: escrow }])
        const expected = settleExpiry({ escrow, prior })
        expectSlotsSettled(closed, jobId, expected.outcomes)
        expectCollateralReleased(closed, jobId, new Map(prior.map((s) => [s.provider, s.collateral])), expected, sys.market)
        expectRefundsWithinDeposit(closed)
        count(cancel ? 'cancelled' : prior.length > 0 ? 'disputed, expired' : 'expired')
      }

      /** Proven disagreements (both orders) and providers that never answered an opening request, across rounds. */
      const disagreements: [Hex, Hex][] = []
      const unanswered: Address[] = []
      /** The first round's revealed results once the job went to a tie-break. */
      let priorResults: { provider: Address; label: string }[] = []
      for (let round = 1; ; round++) {
        if (round > 1) {
          const drawn = await drawProviders()
          if (!drawn) {
            count('too few providers left after no-shows')
            await giveUp()
            break
          }
          chosen = drawn
          if (prior.length > 0 && rand.next() < 0.5) {
            // A party to the dispute wants to judge it. The contract refuses.
            const party = prior[rand.int(0, prior.length - 1)].provider
            const withParty = [party, ...chosen.slice(1).map((p) => p.address)]
            await expect(send(matcher, sys.market, jobMarketAbi, 'assign', [jobId, withParty])).rejects.toThrow(/ProviderInDispute/)
            count('party to the dispute refused')
          }
          if (noShows.size > 0 && rand.next() < 0.3) {
            // The adversary's wish: the same no-show back on the job. The contract refuses it.
            const noShow = [...noShows][rand.int(0, noShows.size - 1)]
            const withNoShow = [noShow, ...chosen.slice(1).map((p) => p.address)]
            await expect(send(matcher, sys.market, jobMarketAbi, 'assign', [jobId, withNoShow])).rejects.toThrow(/ProviderWasNoShow/)
            count('no-show refused')
          }
        }
        const assigned = await send(matcher, sys.market, jobMarketAbi, 'assign', [jobId, chosen.map((p) => p.address)])
        const slotsAssigned = marketEvents(assigned, 'JobAssigned').map((e) => ({
          provider: e.provider,
          slot: e.slot,
          pricePerUnit: e.pricePerUnit,
          collateral: e.collateral,
        }))
        expect(slotsAssigned).toEqual(
          chosen.map((p, slot) => ({ provider: p.address, slot, pricePerUnit: asks.get(p.address), collateral: collateralFor(p) })),
        )
        const collaterals = new Map(chosen.map((p) => [p.address, collateralFor(p)]))

        /** The commit and reveal calls of provider `p` for `fingerprint`. */
        const resultOf = (p: LocalAccount, fingerprint: Hex) => {
          const outputHash = keccak256(fingerprint)
          const salt = keccak256(toHex(`salt ${jobId} ${round} ${p.address}`))
          const commitment = commitmentOf({ jobId, provider: p.address, fingerprint, outputHash, salt })
          const call = { account: p, to: sys.market, abi: jobMarketAbi }
          return {
            commit: { ...call, functionName: 'commitResult', args: [jobId, commitment] },
            reveal: { ...call, functionName: 'revealResult', args: [jobId, fingerprint, outputHash, salt] },
          }
        }
        /**
         * A labelled output's commitment (test/support/labelledOutputs.ts), the same in every round: `w~<provider>` is
         * `w` as that provider's machine rounds it. `opaque …` is a fingerprint no output stands behind.
         */
        const fingerprintOf = (label: string) =>
          label.startsWith('opaque') ? keccak256(toHex(`${jobId} ${label}`)) : fingerprintOfLabel(`${jobId} ${label}`)

        if (expiring || rand.next() < 0.2) {
          // No-shows: some (maybe none) commit, the window closes, anyone expires the assignment.
          const committed = chosen.map(() => rand.next() < 0.5)
          if (committed.every(Boolean)) committed[rand.int(0, k - 1)] = false
          await sendAll(chosen.filter((_, i) => committed[i]).map((p) => resultOf(p, fingerprintOf('w')).commit))
          await sys.increaseTime(market.commitWindow + 1n)
          const expired = await send(requester, sys.market, jobMarketAbi, 'expireAssignment', [jobId])
          const { timestamp } = await sys.publicClient.getBlock({ blockNumber: expired.blockNumber })
          const reopened = timestamp <= spec.deadline
          const expected = settleNoShows({
            escrow,
            slots: chosen.map((p, i) => ({ provider: p.address, collateral: collateralFor(p), committed: committed[i] })),
            prior,
            reopened,
          })
          expectSlotsSettled(expired, jobId, expected.outcomes)
          for (const s of reopened ? [] : prior) collaterals.set(s.provider, s.collateral)
          expect(marketEvents(expired, 'NoShow')).toEqual(expected.slashed.map((s) => ({ jobId, provider: s.provider })))
          expect(marketEvents(expired, 'AssignmentExpired')).toEqual([{ jobId, reopened }])
          expect(marketEvents(expired, 'JobExpired')).toEqual(reopened ? [] : [{ jobId }])
          expect(marketEvents(expired, 'Refunded')).toEqual(
            expected.refund > 0n ? [{ jobId, requester: requester.address, amount: expected.refund }] : [],
          )
          expectCollateralReleased(expired, jobId, collaterals, expected, sys.market)
          expectRefundsWithinDeposit(expired)
          for (const s of expected.slashed) noShows.add(s.provider)
          count(`${prior.length > 0 ? 'tie-break ' : ''}${reopened ? 'no-show, reopened' : 'no-show, expired'}`)
          if (!reopened) break
          if (round < 3 && rand.next() < 0.7) continue
          await giveUp()
          break
        }

        // Everyone commits; each reveals the majority answer, another one, or nothing, by a pattern drawn per job.
        const pattern = rand.pick(['unanimous', 'dissent', 'silent', 'mixed', 'split', 'failure', 'failure split', 'rounding'] as const)
        // A failure is a result too: the code of one reason of the taxonomy.
        const failure = failureFingerprintOf(rand.pick(jobFailureReasons))
        // Labels, not yet fingerprints: the keeper below proves disagreements from the outputs behind them.
        const labels: (string | null)[] = chosen.map((p) => {
          const x = rand.next()
          const alt = () => (rand.next() < 0.3 ? `opaque ${rand.int(0, 1)}` : `alt ${rand.int(0, 2)}`)
          if (pattern === 'unanimous') return 'w'
          if (pattern === 'rounding') return x < 0.5 ? 'w' : x < 0.85 ? `w~${p.address}` : alt()
          if (pattern === 'failure') return x < 0.7 ? 'failure' : x < 0.85 ? 'w' : null
          if (pattern === 'failure split') return x < 0.5 ? 'failure' : 'w'
          if (pattern === 'dissent') return x < 0.7 ? 'w' : alt()
          if (pattern === 'silent') return x < 0.65 ? 'w' : null
          if (pattern === 'mixed') return x < 0.5 ? 'w' : x < 0.75 ? alt() : null
          return alt()
        })
        const reveals = labels.map((label) => (label === null ? null : label === 'failure' ? failure : fingerprintOf(label)))
        const results = chosen.map((p, i) => resultOf(p, reveals[i] ?? fingerprintOf('never revealed')))
        await sendAll(results.map((r) => r.commit))
        await sendAll(results.filter((_, i) => reveals[i] !== null).map((r) => r.reveal))
        if (reveals.includes(null)) await sys.increaseTime(market.revealWindow + 1n)
        // The keeper: proves every disagreement between results it holds the outputs of, asks the providers of
        // results it can't open to open one, then lets the proof window pass. What it proved is what the mirror gets.
        const revealedHere = chosen.flatMap((p, i) =>
          labels[i] !== null && labels[i] !== 'failure' ? [{ provider: p.address, label: labels[i] }] : [],
        )
        const revealedResults = [...priorResults, ...revealedHere]
        if (new Set(revealedResults.map((r) => fingerprintOf(r.label))).size > 1) {
          for (const [i, a] of revealedResults.entries()) {
            if (a.label.startsWith('opaque')) {
              if (!unanswered.includes(a.provider) && revealedHere.includes(a)) {
                await send(requester, sys.market, jobMarketAbi, 'requestOpening', [jobId, a.provider, 0n])
                unanswered.push(a.provider)
              }
              continue
            }
            for (const b of revealedResults.slice(i + 1)) {
              const [fa, fb] = [fingerprintOf(a.label), fingerprintOf(b.label)]
              const proof = b.label.startsWith('opaque') ? undefined : disagreementOf(`${jobId} ${a.label}`, `${jobId} ${b.label}`)
              if (!proof || fa === fb || disagreements.some(([x, y]) => x === fa && y === fb)) continue
              await send(requester, sys.market, jobMarketAbi, 'proveDisagreement', [jobId, a.provider, proof.a, b.provider, proof.b])
              disagreements.push([fa, fb], [fb, fa])
              count('disagreements proven')
            }
          }
          await sys.increaseTime(market.proofWindow + 1n)
        }
        const finalized = await send(matcher, sys.market, jobMarketAbi, 'finalize', [jobId])
        const finalizedAt = (await sys.publicClient.getBlock({ blockNumber: finalized.blockNumber })).timestamp

        const slots: SettlementSlot[] = chosen.map((p, i) => ({
          provider: p.address,
          ask: asks.get(p.address) ?? 0n,
          collateral: collateralFor(p),
          fingerprint: reveals[i],
        }))
        const proofs = { disagreements, unanswered }
        const expected = settleJob({ escrow, units, slots, prior, deadlinePassed: finalizedAt > spec.deadline, params: market, proofs })
        // Whatever its machine's rounding, a provider that revealed the job's true output is never slashed while the
        // true output's revealers are the round's majority.
        const isTrue = (label: string | null) => label === 'w' || !!label?.startsWith('w~')
        if (2 * labels.filter(isTrue).length > k)
          for (const [i, label] of labels.entries())
            if (isTrue(label))
              expect(
                expected.slashed.map((x) => x.provider),
                `honest ${label} slashed`,
              ).not.toContain(chosen[i].address)
        if (pattern === 'rounding' && new Set(reveals).size > 1) count('honest fingerprints differed')
        const tieBreak = prior.length > 0 ? 'tie-break ' : ''
        if (expected.status === 'DISPUTED') {
          // Nothing moves: the first round waits, collateral locked, for fresh providers.
          expect(marketEvents(finalized, 'JobDisputed')).toEqual([{ jobId }])
          for (const name of ['ProviderPaid', 'Refunded', 'JobFinalized', 'SlotSettled']) expect(marketEvents(finalized, name)).toEqual([])
          expect(registryLogs(finalized)).toEqual([])
          prior = slots
          priorResults = revealedHere
          count('disputed')
          continue
        }
        for (const s of prior) collaterals.set(s.provider, s.collateral)
        const burns = expected.status === 'COMPLETED' || expected.status === 'FAILED_INVALID'
        expect(marketEvents(finalized, 'ProviderPaid')).toEqual(expected.paid.map((p) => ({ jobId, provider: p.provider, amount: p.fee })))
        expect(marketEvents(finalized, 'SlashShareCredited')).toEqual(expected.shares.map((p) => ({ jobId, ...p })))
        expect(marketEvents(finalized, 'FeeBurned')).toEqual(burns ? [{ jobId, amount: expected.take }] : [])
        expect(marketEvents(finalized, 'Refunded')).toEqual([{ jobId, requester: requester.address, amount: expected.refund }])
        expect(marketEvents(finalized, 'JobFinalized')).toEqual([
          {
            jobId,
            status: { COMPLETED: JobStatus.Completed, FAILED_INVALID: JobStatus.FailedInvalid, FAILED: JobStatus.Failed }[expected.status],
            fingerprint: expected.fingerprint ?? zeroHash,
            fees: expected.fees,
            burned: expected.take,
            refunded: expected.refund,
          },
        ])
        expectSlotsSettled(finalized, jobId, expected.outcomes)
        expectCollateralReleased(finalized, jobId, collaterals, expected, sys.market)
        expectRefundsWithinDeposit(finalized)
        const status = expected.status.toLowerCase().replace('_', ' ')
        count(`${tieBreak}${status}`)
        if (expected.slashed.length > 0) count(`${status} with slashes`)
        if (expected.shares.length > 0) count('slash shares credited')
        if (reveals.includes(null)) count('some never revealed')
        if (expected.fingerprint && failureReasonCode(expected.fingerprint) > 3) count('resource failure won')
        break
      }
      count('jobs')
    }
  } finally {
    await sys.stop()
  }
}

/** The code of a failure fingerprint (1–5), 0 for a result. */
const failureReasonCode = (fingerprint: Hex) => (BigInt(fingerprint) <= 5n ? Number(BigInt(fingerprint)) : 0)

/** `SlotSettled` of the JobMarket, in order, as `expected` says. */
function expectSlotsSettled(receipt: TransactionReceipt, jobId: bigint, expected: { provider: Address; outcome: SlotOutcome }[]) {
  expect(marketEvents(receipt, 'SlotSettled')).toEqual(
    expected.map((o) => ({ jobId, provider: o.provider, outcome: slotOutcomes.indexOf(o.outcome) })),
  )
}

/** `Slashed` and `CollateralUnlocked` of the registry, slot order within each, as `expected` says. */
function expectCollateralReleased(
  receipt: TransactionReceipt,
  jobId: bigint,
  collaterals: ReadonlyMap<Address, bigint>,
  expected: { slashed: { provider: Address; amount: bigint; toBeneficiary: bigint; burned: bigint }[]; unlocked: Address[] },
  market: Address,
) {
  expect(registryEvents(receipt, 'Slashed')).toEqual(
    expected.slashed.map((s) => ({
      provider: s.provider,
      jobId,
      amount: s.amount,
      beneficiary: market,
      toBeneficiary: s.toBeneficiary,
      burned: s.burned,
    })),
  )
  expect(registryEvents(receipt, 'CollateralUnlocked')).toEqual(
    expected.unlocked.map((provider) => ({ provider, jobId, amount: collaterals.get(provider) })),
  )
}

test('JobMarket and settlement.ts agree wei for wei on random jobs, reveal patterns and no-shows', { timeout: 180_000 }, async () => {
  const started = Date.now()
  const rand = prng(SEED)
  const stats: Stats = {}
  for (const scenario of scenarios(rand)) await runScenario(scenario, rand, stats)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`settlement parity: ${stats.jobs} jobs in ${seconds} s`, stats)
  // The draw must reach every branch the maths has.
  for (const key of [
    'completed',
    'failed',
    'failed invalid',
    'failed invalid with slashes',
    'resource failure won',
    'disputed',
    'tie-break completed',
    'tie-break failed',
    'party to the dispute refused',
    'completed with slashes',
    'failed with slashes',
    'slash shares credited',
    'some never revealed',
    'no-show, reopened',
    'no-show, expired',
    'no-show refused',
    'cancelled',
    'expired',
    'magnitude top',
  ]) {
    expect(stats[key] ?? 0, key).toBeGreaterThan(0)
  }
})
