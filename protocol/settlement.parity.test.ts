import {
  type Abi,
  type Address,
  encodeFunctionData,
  type Hex,
  keccak256,
  type LocalAccount,
  maxUint256,
  pad,
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
import { type Prng, prng } from '../economics/prng.ts'
import { defined } from '../test/support/defined.ts'
import { disagreementOf, fingerprintOfLabel } from '../test/support/labelledOutputs.ts'
import type { MarketParams } from './deployment.ts'
import { JobStatus, type SlotOutcome, slotOutcomes } from './enums.ts'
import { commitmentOf } from './fingerprint.ts'
import { failureFingerprintOf, jobFailureReasons } from './jobInputs.ts'
import { encodeRegion } from './region.ts'
import { decodeRevert, formatRevert } from './revert.ts'
import {
  type Audit,
  challengeBondOf,
  collateralOf,
  escrowOf,
  type Settlement,
  type SettlementSlot,
  settleExpiry,
  settleJob,
  settlementGasAllowance,
  settleNoShows,
  settlesAtReveal,
  takeOf,
} from './settlement.ts'
import { AuditKind, spotCheckOf } from './spotCheck.ts'
import { BPS, TSR } from './units.ts'

/**
 * Parity: JobMarket on a real anvil and `settlement.ts` settle the same random jobs (redundancy 2–16, prices from a
 * few wei to the largest that neither overflows the contract nor exceeds the supply, several market parameter sets)
 * through random reveal patterns (agreement, dissent, silence, reported failures, no majority and its tie-break) and
 * no-shows (reopened or expired), and must agree on every amount and outcome the contract emits, wei for wei. The
 * contract is the reference. Along the way the requester, who may be griefing, must never get back more than it
 * deposited for a job, a no-show must never be given the same job again, nor a party to a dispute its tie-break.
 *
 * Optimistic jobs (k = 1) run the same way through their own rounds: an honest, lying, failing or silent original;
 * challenged or not; spot-checked or not (by the next block's hash: read with `spotCheckOf` after mining and checked
 * against protocol/spotCheck.ts, the block mined again by another miner until it goes the way the draw wants, so every
 * run takes the same paths); an auditor that agrees, disagrees, colludes or falls silent; two judges that agree or
 * split; no-shows and abandoned audits. Every verdict must also move the audit fund (read before and after) and the
 * challenge bond exactly as the mirror says, and burn exactly the take, the bond's burned half and the slashes' burned
 * parts.
 */

const SEED = 0x5e771e
/**
 * Optimistic jobs draw from their own generators, so the redundant jobs' draws stay the same from run to run: an
 * optimistic job's path follows its spot check, which follows a block hash, which follows anvil's clock.
 */
const OPTIMISTIC_SEED = 0x0971_5a1c
/** Blocks mined at most for a wanted spot check; at 1% a miss is a chance in 20,000 (then the job goes the chain's way). */
const MAX_SPOT_CHECK_MINERS = 1_000
const MNEMONIC = 'test test test test test test test test test test test junk'
/** Enough providers for the largest redundancy, MAX_REDUNDANCY = 16. */
const PROVIDER_COUNT = 16
/** Keys past anvil's ten funded accounts; they get ETH through `anvil_setBalance`. */
const providerAccounts = Array.from({ length: PROVIDER_COUNT }, (_, i) => mnemonicToAccount(MNEMONIC, { addressIndex: 10 + i }))
const requesterAccount = mnemonicToAccount(MNEMONIC, { addressIndex: 10 + PROVIDER_COUNT })
const challengerAccount = mnemonicToAccount(MNEMONIC, { addressIndex: 11 + PROVIDER_COUNT })

type Magnitude = 'dust' | 'tsr' | 'top'
/** `jobs` redundant jobs, then `optimisticJobs` optimistic ones, on one deployment. */
type Scenario = { name: string; jobs: number; optimisticJobs: number; params: DeployParamsOverrides; magnitudes: readonly Magnitude[] }

function scenarios(rand: Prng): Scenario[] {
  const bps = () => BigInt(rand.pick([1, 9_999, rand.int(1, 9_999), rand.int(1, 9_999)]))
  // A take governance may set: at most 30 %, above κ (0 in these scenarios, so any take from 1 bps).
  const take = () => BigInt(rand.pick([1, 3_000, rand.int(1, 3_000)]))
  const noKappa = { kappa: 0n }
  const windows = () => ({ commitWindow: BigInt(rand.int(60, 3_600)), revealWindow: BigInt(rand.int(60, 3_600)) })
  return [
    { name: 'devnet', jobs: 30, optimisticJobs: 12, params: {}, magnitudes: ['dust', 'tsr', 'tsr', 'top'] },
    {
      name: 'random bps',
      jobs: 30,
      optimisticJobs: 6,
      params: {
        market: {
          takeBps: take(),
          minTake: BigInt(rand.int(1, 5_000)),
          collateralBps: BigInt(rand.int(1, 30_000)),
          slashBeneficiaryBps: bps(),
          ...windows(),
        },
        emission: noKappa,
      },
      magnitudes: ['dust', 'dust', 'tsr', 'top'],
    },
    {
      name: 'least take, zero collateral and beneficiary share, all of uint256 minted',
      jobs: 12,
      optimisticJobs: 4,
      params: {
        token: { genesisSupply: maxUint256 },
        market: { takeBps: 1n, minTake: 0n, collateralBps: 0n, slashBeneficiaryBps: 0n },
        emission: noKappa,
      },
      magnitudes: ['dust', 'tsr', 'top'],
    },
    {
      name: 'largest take and minimum take, full share, largest collateral, all of uint256 minted',
      jobs: 20,
      optimisticJobs: 6,
      params: {
        token: { genesisSupply: maxUint256 },
        market: { takeBps: 3_000n, minTake: 100n * 10n ** 18n, collateralBps: 65_535n, slashBeneficiaryBps: BPS, ...windows() },
      },
      magnitudes: ['dust', 'tsr', 'top', 'top'],
    },
    {
      name: 'random bps, all of uint256 minted',
      jobs: 25,
      optimisticJobs: 6,
      params: {
        token: { genesisSupply: maxUint256 },
        registry: { minStake: 1n },
        market: { takeBps: take(), collateralBps: BigInt(rand.int(0, 65_535)), slashBeneficiaryBps: bps(), ...windows() },
        emission: noKappa,
      },
      magnitudes: ['dust', 'top', 'top'],
    },
    {
      // Dust only: the premiums of a few unaudited jobs pay for a whole audit, so reimbursements come in full and capped.
      name: 'optimistic: frequent spot checks, large premiums, an odd bond, a threshold among dust, fees that round to nothing',
      jobs: 0,
      optimisticJobs: 36,
      params: { market: randomAuditParams(prng(OPTIMISTIC_SEED)), emission: noKappa },
      magnitudes: ['dust'],
    },
  ]
}

/**
 * Audit parameters the constructor accepts (`p·(1 + m) > 1`): spot checks frequent enough that both outcomes come up
 * often (and premiums large enough, the take small enough, that the fund pays for whole audits), the smallest collateral multiple they
 * allow or a little more, an odd bond, a threshold at the top of the dust range, a failure fee that often rounds to
 * nothing.
 */
function randomAuditParams(rand: Prng) {
  const spotCheckBps = BigInt(rand.int(4_000, 8_000))
  return {
    // A take small enough that a few premiums pay for an audit and its take.
    takeBps: BigInt(rand.int(1, 2_000)),
    slashBeneficiaryBps: BigInt(rand.pick([1, 9_999, rand.int(1, 9_999)])),
    commitWindow: BigInt(rand.int(60, 3_600)),
    revealWindow: BigInt(rand.int(60, 3_600)),
    spotCheckBps,
    optimisticCollateralBps: (BPS * BPS) / spotCheckBps - BPS + BigInt(rand.pick([1, rand.int(1, 40_000)])),
    challengeBondBps: BigInt(2 * rand.int(0, 32_766) + 1),
    auditThreshold: BigInt(rand.int(4_000, 8_000)),
    failureFeeBps: BigInt(rand.pick([0, 1, rand.int(1, 9_999)])),
    // Windows long enough that a loaded machine's clock can't close them between a reveal and its challenge or proof.
    challengeWindow: BigInt(rand.int(60, 600)),
    proofWindow: BigInt(rand.int(60, 300)),
  }
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
    escrowOfValue(value, market) <= maxUint256 &&
    slotValue * market.collateralBps <= maxUint256 &&
    slotValue * market.failureFeeBps <= maxUint256 &&
    collateral * market.slashBeneficiaryBps <= maxUint256 &&
    escrowOfValue(value, market) + BigInt(k) * maxBig(collateral, minStake) <= budget
  )
}
const escrowOfValue = (value: bigint, market: MarketParams) => value + takeOf(value, market)

/** The largest slot value {@link fits} allows, found from a closed-form bound and then stepped down exactly. */
function largestSlotValue(k: number, market: MarketParams, minStake: bigint, budget: bigint): bigint {
  const kk = BigInt(k)
  const { takeBps: t, collateralBps: c, slashBeneficiaryBps: b, failureFeeBps: f } = market
  let slot = (maxUint256 * BPS) / (BPS + t) / kk
  if (t > 0n) slot = minBig(slot, maxUint256 / t / kk)
  if (c > 0n) slot = minBig(slot, maxUint256 / c)
  if (f > 0n) slot = minBig(slot, maxUint256 / f)
  if (c > 0n && b > 0n) slot = minBig(slot, ((maxUint256 / b) * BPS) / c)
  slot = minBig(slot, (maxBig(0n, budget - kk * minStake) * BPS) / (kk * (BPS + t) + kk * c))
  while (slot > 0n && !fits(slot, k, market, minStake, budget)) slot -= slot / 1_000_000n + 1n
  return slot
}

/**
 * Whether an optimistic job of `slotValue` keeps JobMarket's and the registry's products within uint256 (escrow of two
 * executions, the optimistic collateral and its slash, the bond, the premium), and its escrow, bond and the collateral
 * of the four providers an escalated audit locks at once within `budget`.
 */
function fitsOptimistic(slotValue: bigint, market: MarketParams, minStake: bigint, budget: bigint): boolean {
  const value = 2n * slotValue
  const collateral = (slotValue * market.optimisticCollateralBps) / BPS
  const bond = (slotValue * market.challengeBondBps) / BPS
  return (
    value * BPS <= maxUint256 &&
    slotValue * market.optimisticCollateralBps <= maxUint256 &&
    collateral * market.slashBeneficiaryBps <= maxUint256 &&
    slotValue * market.challengeBondBps <= maxUint256 &&
    escrowOfValue(value, market) + bond + 4n * maxBig(collateral, minStake) <= budget
  )
}

/** The largest slot value {@link fitsOptimistic} allows, bounded by the budget and then stepped down exactly. */
function largestOptimisticSlotValue(market: MarketParams, minStake: bigint, budget: bigint): bigint {
  const { takeBps: t, optimisticCollateralBps: m, challengeBondBps: b } = market
  let slot = maxUint256 / BPS / 2n
  if (m > 0n) slot = minBig(slot, maxUint256 / m)
  slot = minBig(slot, (maxBig(0n, budget - 4n * minStake) * BPS) / (2n * (BPS + t) + b + 4n * m))
  while (slot > 0n && !fitsOptimistic(slot, market, minStake, budget)) slot -= slot / 1_000_000n + 1n
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

/**
 * Checks that a round's last reveal settled the job (its verdict's JobFinalized or JobDisputed, or the judges'
 * AuditStarted) exactly when `settles` (the mirror's `settlesAtReveal`) says so, and returns that receipt then, where
 * `finalize`'s would be.
 */
function expectSettledAtReveal(reveals: readonly TransactionReceipt[], settles: boolean): TransactionReceipt | undefined {
  const last = reveals.at(-1)
  const verdicts = last
    ? marketLogs(last).flatMap((log) => (['JobFinalized', 'JobDisputed', 'AuditStarted'].includes(log.eventName) ? [log.eventName] : []))
    : []
  expect(verdicts.length > 0, `a verdict in the last reveal (${verdicts}), as settlesAtReveal says`).toBe(settles)
  return settles ? last : undefined
}

/**
 * A settling reveal costs no more than a plain reveal (the round's first, which settled nothing) and the allowance
 * agents add for it (`settlementGasAllowance`); rounds of one reveal have no plain one to compare with.
 */
function expectWithinSettlementAllowance(reveals: readonly TransactionReceipt[], slots: number, prior: number): void {
  const [plain, last] = [reveals[0], reveals.at(-1)]
  if (!plain || !last || plain === last) return
  expect(last.gasUsed - plain.gasUsed, `a settling reveal of ${slots} slots after ${prior}`).toBeLessThanOrEqual(
    settlementGasAllowance(slots, prior),
  )
}

type Stats = Record<string, number>

/** One scenario's deployment, accounts and helpers, shared by its redundant and optimistic jobs. */
type Scene = Awaited<ReturnType<typeof sceneOf>>

/** Readies a deployed test system for random jobs: funds and registers every provider, approves the market. */
async function sceneOf(sys: TestSystem, stats: Stats) {
  const count = (key: string) => {
    stats[key] = (stats[key] ?? 0) + 1
  }
  const market = sys.deployment.params.market
  const minStake = sys.deployment.params.registry.minStake
  const { deployer, matcher } = sys.accounts
  const requester = requesterAccount
  const challenger = challengerAccount
  const { send, sendAll } = senderFor(sys)
  const read = <T>(address: Address, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
    sys.read<T>({ address, abi, functionName, args })
  const region = encodeRegion('eu')

  for (const account of [...providerAccounts, requester, challenger]) {
    await sys.testClient.setBalance({ address: account.address, value: 10n ** 30n })
  }
  const asks = new Map<Address, bigint>(providerAccounts.map((p) => [p.address, 1n]))
  await sendAll([
    ...providerAccounts.flatMap((p) => [
      { account: p, to: sys.registry, abi: providerRegistryAbi, functionName: 'register', args: [defaultHardware, 1n, region, '0x01'] },
      { account: p, to: sys.token, abi: tesseraTokenAbi, functionName: 'approve', args: [sys.registry, maxUint256] },
    ]),
    ...[requester, challenger].map((account) => ({
      account,
      to: sys.token,
      abi: tesseraTokenAbi,
      functionName: 'approve',
      args: [sys.market, maxUint256],
    })),
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

  /**
   * Readies `chosen` for a job at `price`: each asks a random price up to the job's (or keeps its ask) and has stake
   * enough for the collateral `collateralFor` its ask locks.
   */
  const ready = async (rand: Prng, chosen: readonly LocalAccount[], price: bigint, collateralFor: (p: LocalAccount) => bigint) => {
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
  }

  /**
   * The keeper, once a round's reveals are in: when the revealed results of both rounds differ, proves every
   * disagreement between results it holds the outputs of, asks the providers of results it can't open (`opaque …`) to
   * open one (this round's, or with `askPrior` the first round's too), then lets the proof window pass. What it proved
   * goes into `proofs`, which the mirror gets.
   */
  const keep = async (job: {
    jobId: bigint
    priorResults: readonly Labelled[]
    revealedHere: readonly Labelled[]
    proofs: { disagreements: [Hex, Hex][]; unanswered: Address[] }
    askPrior: boolean
  }) => {
    const { jobId, revealedHere, proofs } = job
    const revealedResults = [...job.priorResults, ...revealedHere]
    if (new Set(revealedResults.map((r) => fingerprintOf(jobId, r.label))).size <= 1) return
    for (const [i, a] of revealedResults.entries()) {
      if (a.label.startsWith('opaque')) {
        if (!proofs.unanswered.includes(a.provider) && (job.askPrior || revealedHere.includes(a))) {
          await send(requester, sys.market, jobMarketAbi, 'requestOpening', [jobId, a.provider, 0n])
          proofs.unanswered.push(a.provider)
          count('openings requested')
        }
        continue
      }
      for (const b of revealedResults.slice(i + 1)) {
        const [fa, fb] = [fingerprintOf(jobId, a.label), fingerprintOf(jobId, b.label)]
        const proof = b.label.startsWith('opaque') ? undefined : disagreementOf(`${jobId} ${a.label}`, `${jobId} ${b.label}`)
        if (!proof || fa === fb || proofs.disagreements.some(([x, y]) => x === fa && y === fb)) continue
        await send(requester, sys.market, jobMarketAbi, 'proveDisagreement', [jobId, a.provider, proof.a, b.provider, proof.b])
        proofs.disagreements.push([fa, fb], [fb, fa])
        count('disagreements proven')
      }
    }
    await sys.increaseTime(market.proofWindow + 1n)
  }

  return {
    sys,
    count,
    stats,
    market,
    minStake,
    deployer,
    matcher,
    requester,
    challenger,
    send,
    sendAll,
    read,
    topUp,
    asks,
    ready,
    keep,
  }
}

/** A revealed result by its label (see {@link fingerprintOf}) and who revealed it. */
type Labelled = { provider: Address; label: string }

/**
 * A labelled output's commitment (test/support/labelledOutputs.ts), the same in every round of job `jobId`: `w~<provider>`
 * is `w` as that provider's machine rounds it. `opaque …` is a fingerprint no output stands behind.
 */
const fingerprintOf = (jobId: bigint, label: string) =>
  label.startsWith('opaque') ? keccak256(toHex(`${jobId} ${label}`)) : fingerprintOfLabel(`${jobId} ${label}`)

/** The commit and reveal calls of provider `p` for `fingerprint` in `round` of job `jobId`, on its input `input`. */
function resultOf(scene: Scene, jobId: bigint, input: Hex, round: number, p: LocalAccount, fingerprint: Hex) {
  const outputHash = keccak256(fingerprint)
  const salt = keccak256(toHex(`salt ${jobId} ${round} ${p.address}`))
  const commitment = commitmentOf({ jobId, provider: p.address, fingerprint, outputHash, salt })
  const call = { account: p, to: scene.sys.market, abi: jobMarketAbi }
  return {
    commit: { ...call, functionName: 'commitResult', args: [jobId, input, commitment] },
    reveal: { ...call, functionName: 'revealResult', args: [jobId, fingerprint, outputHash, salt] },
  }
}

/** A job's units and max price for `magnitude`, its value (price × units) at most `cap`; price 0 when nothing fits. */
function sizeOf(rand: Prng, magnitude: Magnitude, cap: bigint): { units: bigint; price: bigint } {
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
  return { units, price: price < 1n ? 0n : price }
}

/** Runs `scenario`'s redundant jobs, drawn from `rand`, then its optimistic ones, drawn from `optimisticRand`. */
async function runScenario(scenario: Scenario, rand: Prng, optimisticRand: Prng, stats: Stats): Promise<void> {
  const sys = await startTestSystem({ params: scenario.params })
  try {
    const scene = await sceneOf(sys, stats)
    for (let n = 0; n < scenario.jobs; n++) await runRedundantJob(scene, scenario, rand, n)
    for (let n = 0; n < scenario.optimisticJobs; n++) await runOptimisticJob(scene, scenario, optimisticRand, scenario.jobs + n)
  } finally {
    await sys.stop()
  }
}

/** A random redundant job `n` through its rounds, no-shows and tie-break, checked against the mirror at each step. */
async function runRedundantJob(scene: Scene, scenario: Scenario, rand: Prng, n: number): Promise<void> {
  const { sys, count, stats, market, minStake, deployer, matcher, requester, send, sendAll, read, topUp } = scene
  const asks = scene.asks
  const magnitude = rand.pick(scenario.magnitudes)
  const r = rand.next()
  const k = r < 0.55 ? rand.int(2, 3) : r < 0.85 ? rand.int(4, 7) : rand.int(8, 16)
  const deployerBalance = await read<bigint>(sys.token, tesseraTokenAbi, 'balanceOf', [deployer.address])
  const cap = largestSlotValue(k, market, minStake, deployerBalance / (magnitude === 'top' ? 2n : 8n))
  const { units, price } = sizeOf(rand, magnitude, cap)
  if (price < 1n) return
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
    await scene.ready(rand, chosen, price, collateralFor)
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
  const proofs = { disagreements: [] as [Hex, Hex][], unanswered: [] as Address[] }
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

    const callsOf = (p: LocalAccount, fingerprint: Hex) => resultOf(scene, jobId, spec.inputHash, round, p, fingerprint)
    const labelled = (label: string) => fingerprintOf(jobId, label)

    if (expiring || rand.next() < 0.2) {
      // No-shows: some (maybe none) commit, the window closes, anyone expires the assignment.
      const committed = chosen.map(() => rand.next() < 0.5)
      if (committed.every(Boolean)) committed[rand.int(0, k - 1)] = false
      await sendAll(chosen.filter((_, i) => committed[i]).map((p) => callsOf(p, labelled('w')).commit))
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
    const reveals = labels.map((label) => (label === null ? null : label === 'failure' ? failure : labelled(label)))
    const results = chosen.map((p, i) => callsOf(p, reveals[i] ?? labelled('never revealed')))
    const slots: SettlementSlot[] = chosen.map((p, i) => ({
      provider: p.address,
      ask: asks.get(p.address) ?? 0n,
      collateral: collateralFor(p),
      fingerprint: reveals[i],
    }))
    await sendAll(results.map((r) => r.commit))
    const supplyBefore = await read<bigint>(sys.token, tesseraTokenAbi, 'totalSupply')
    const revealed = await sendAll(results.filter((_, i) => reveals[i] !== null).map((r) => r.reveal))
    const lastReveal = expectSettledAtReveal(revealed, settlesAtReveal({ slots, prior }))
    if (lastReveal) count(`${prior.length > 0 ? 'tie-break ' : ''}settled by the last reveal`)
    if (lastReveal) expectWithinSettlementAllowance(revealed, k, prior.length)
    if (reveals.includes(null)) await sys.increaseTime(market.revealWindow + 1n)
    const revealedHere = chosen.flatMap((p, i) =>
      labels[i] !== null && labels[i] !== 'failure' ? [{ provider: p.address, label: labels[i] }] : [],
    )
    await scene.keep({ jobId, priorResults, revealedHere, proofs, askPrior: false })
    const finalized = lastReveal ?? (await send(matcher, sys.market, jobMarketAbi, 'finalize', [jobId]))
    const burned = supplyBefore - (await read<bigint>(sys.token, tesseraTokenAbi, 'totalSupply'))
    const finalizedAt = (await sys.publicClient.getBlock({ blockNumber: finalized.blockNumber })).timestamp

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
    expectSettled(finalized, jobId, requester.address, expected, collaterals, sys.market, burned)
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

/**
 * What `finalize` emitted and burned, as the mirror's `expected` verdict says: payments, shares, take, refund, the
 * job's status, each slot's outcome, the registry's slashes and unlocks, the audit money (`AuditSettled`), and the
 * supply burned (`burned`: the take, a lost bond's burned half and the slashes' burned parts).
 */
function expectSettled(
  receipt: TransactionReceipt,
  jobId: bigint,
  requester: Address,
  expected: Settlement,
  collaterals: ReadonlyMap<Address, bigint>,
  market: Address,
  burned: bigint,
) {
  const decided = expected.status === 'COMPLETED' || expected.status === 'FAILED_INVALID'
  expect(marketEvents(receipt, 'ProviderPaid')).toEqual(expected.paid.map((p) => ({ jobId, provider: p.provider, amount: p.fee })))
  expect(marketEvents(receipt, 'SlashShareCredited')).toEqual(expected.shares.map((p) => ({ jobId, ...p })))
  expect(marketEvents(receipt, 'FeeBurned')).toEqual(decided ? [{ jobId, amount: expected.take }] : [])
  expect(marketEvents(receipt, 'Refunded')).toEqual([{ jobId, requester, amount: expected.refund }])
  const { Completed, FailedInvalid, Failed, Disputed } = JobStatus
  const statusOf = { COMPLETED: Completed, FAILED_INVALID: FailedInvalid, FAILED: Failed, DISPUTED: Disputed }
  expect(marketEvents(receipt, 'JobFinalized')).toEqual([
    {
      jobId,
      status: statusOf[expected.status],
      fingerprint: expected.fingerprint ?? zeroHash,
      fees: expected.fees,
      burned: expected.take,
      refunded: expected.refund,
    },
  ])
  const audit = expected.auditSettled
  expect(marketEvents(receipt, 'AuditSettled')).toEqual(
    audit
      ? [
          {
            jobId,
            premium: audit.premium,
            reimbursed: audit.reimbursed,
            toProvider: audit.toProvider,
            bondBurned: audit.bondBurned,
            bondReturned: audit.bondReturned,
          },
        ]
      : [],
  )
  expectSlotsSettled(receipt, jobId, expected.outcomes)
  expectCollateralReleased(receipt, jobId, collaterals, expected, market)
  const slashesBurned = expected.slashed.reduce((sum, s) => sum + s.burned, 0n)
  expect(burned, 'supply burned').toBe(expected.take + (audit?.bondBurned ?? 0n) + slashesBurned)
}

/**
 * A random optimistic job `n`: its provider honest, lying, reporting a failure or silent; then the chain's spot check
 * or a challenge; an auditor agreeing, colluding, dissenting or silent; two judges agreeing or splitting; no-shows and
 * an abandoned audit along the way. Every `finalize` is checked against the mirror, the audit fund read before and after.
 */
async function runOptimisticJob(scene: Scene, scenario: Scenario, rand: Prng, n: number): Promise<void> {
  const { sys, count, market, minStake, deployer, matcher, requester, challenger, send, sendAll, read, topUp, asks } = scene
  const magnitude = rand.pick(scenario.magnitudes)
  const deployerBalance = await read<bigint>(sys.token, tesseraTokenAbi, 'balanceOf', [deployer.address])
  const cap = largestOptimisticSlotValue(market, minStake, deployerBalance / (magnitude === 'top' ? 2n : 8n))
  const { units, price } = sizeOf(rand, magnitude, cap)
  if (price < 1n) return
  count(`optimistic magnitude ${magnitude}`)
  const job = { maxPricePerUnit: price, units, redundancy: 1, verification: 'OPTIMISTIC' } as const
  const escrow = escrowOf(job, market)
  const bond = challengeBondOf(job, market)
  const collateralFor = (p: LocalAccount) => collateralOf({ ask: asks.get(p.address) ?? 1n, units, verification: 1 }, market)
  const fundBalance = () => read<bigint>(sys.market, jobMarketAbi, 'auditFund')
  const supply = () => read<bigint>(sys.token, tesseraTokenAbi, 'totalSupply')
  /** Providers this job may not be given: its no-shows and the parties to its audit. */
  const excluded = new Set<Address>()
  const draw = async (k: number) => {
    const pool = providerAccounts.filter((p) => !excluded.has(p.address))
    if (pool.length < k) return undefined
    const chosen = Array.from({ length: k }, () => pool.splice(rand.int(0, pool.length - 1), 1)[0])
    await scene.ready(rand, chosen, price, collateralFor)
    return chosen
  }
  let chosen = await draw(1)
  if (!chosen) throw new Error('a fresh job always finds a provider')
  await topUp(requester, escrow)

  // A tight deadline: an audit must push it out to leave itself time.
  const tight = rand.next() < 0.3
  let deadline = (await sys.now()) + (tight ? market.commitWindow + market.revealWindow + 5n : 10_000_000n)
  const spec = {
    modelHash: keccak256(toHex(`model ${n}`)),
    inputHash: keccak256(toHex(`input ${n}`)),
    units,
    maxPricePerUnit: price,
    minVramMiB: 0,
    gpuModel: 0,
    regions: [],
    redundancy: 1,
    verification: 1,
    deadline,
    outputTolerance: 16,
  }
  expect(await read(sys.market, jobMarketAbi, 'quoteEscrow', [price, units, 2])).toBe(escrow)
  const submitted = await send(requester, sys.market, jobMarketAbi, 'submitJob', [spec])
  const [submittedEvent] = marketEvents(submitted, 'JobSubmitted')
  const jobId = submittedEvent.jobId as bigint
  expect(submittedEvent.escrow).toBe(escrow)
  /**
   * Adds up what the requester got back beyond the audit fund's reimbursements: never more than it deposited, but for
   * the wei a slash split leaves over (`remainder`, fewer than the winners), which exceeds the deposit when the fees
   * (a failure fee rounding to nothing, say) are smaller still.
   */
  let refunded = 0n
  const expectRefundsWithinDeposit = (receipt: TransactionReceipt, reimbursed = 0n, remainder = 0n) => {
    for (const e of marketEvents(receipt, 'Refunded')) refunded += e.amount as bigint
    refunded -= reimbursed
    expect(refunded).toBeLessThanOrEqual(escrow + remainder)
    if (refunded > escrow) count('optimistic: refund above the deposit by a split remainder')
  }
  const timestampOf = async (receipt: TransactionReceipt) =>
    (await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp
  /** `_startAudit` at `receipt`: the deadline pushed out to leave a whole audit round time. */
  const expectAuditStarted = async (receipt: TransactionReceipt, started: { kind: AuditKind; auditors: 1 | 2 }) => {
    const { claimGrace, commitWindow, revealWindow, proofWindow } = market
    deadline = maxBig(deadline, (await timestampOf(receipt)) + claimGrace + commitWindow + revealWindow + proofWindow)
    expect(marketEvents(receipt, 'AuditStarted')).toEqual([{ jobId, ...started, deadline }])
    expect(marketEvents(receipt, 'JobDisputed')).toEqual([{ jobId }])
    for (const name of ['ProviderPaid', 'Refunded', 'JobFinalized', 'SlotSettled', 'AuditSettled'])
      expect(marketEvents(receipt, name)).toEqual([])
    expect(registryLogs(receipt)).toEqual([])
    count(started.auditors === 1 ? `audit started, ${AuditKind[started.kind]}` : `audit escalated, ${AuditKind[started.kind]}`)
  }

  const failure = failureFingerprintOf(rand.pick(jobFailureReasons))
  const proofs = { disagreements: [] as [Hex, Hex][], unanswered: [] as Address[] }
  /** The original provider, then the auditor, once the job is audited; `disputed` on chain. */
  let prior: SettlementSlot[] = []
  let priorResults: Labelled[] = []
  let priorLabels: (string | null)[] = []
  let audit: Audit = { kind: AuditKind.None, bond: 0n }
  const stage = () => (prior.length === 0 ? 'original' : prior.length === 1 ? 'audit' : 'judges')
  // One assignment per pass: the first was drawn before submitting (a tight deadline is still ahead at assignment).
  for (let round = 1; ; round++) {
    if (round > 1) {
      const drawn = await draw(prior.length === 2 ? 2 : 1)
      if (!drawn) {
        count('optimistic: too few providers left')
        break
      }
      chosen = drawn
      if (prior.length > 0 && rand.next() < 0.3) {
        // The original wants to audit itself, or the auditor to judge its own dispute. The contract refuses.
        const party = prior[rand.int(0, prior.length - 1)].provider
        const withParty = [party, ...chosen.slice(1).map((p) => p.address)]
        await expect(send(matcher, sys.market, jobMarketAbi, 'assign', [jobId, withParty])).rejects.toThrow(/ProviderInDispute/)
        count('optimistic: party to the audit refused')
      }
    }
    const assigned = await send(matcher, sys.market, jobMarketAbi, 'assign', [jobId, chosen.map((p) => p.address)])
    expect(marketEvents(assigned, 'JobAssigned').map((e) => [e.provider, e.pricePerUnit, e.collateral])).toEqual(
      chosen.map((p) => [p.address, asks.get(p.address), collateralFor(p)]),
    )
    const collaterals = new Map(chosen.map((p) => [p.address, collateralFor(p)]))
    const callsOf = (p: LocalAccount, fingerprint: Hex) => resultOf(scene, jobId, spec.inputHash, round, p, fingerprint)
    const labelled = (label: string) => fingerprintOf(jobId, label)

    if (rand.next() < 0.1) {
      // A no-show (the second judge may commit): the assignment expires, the job reopens unless its deadline passed.
      const committed = chosen.map((_, i) => i > 0 && rand.next() < 0.5)
      await sendAll(chosen.filter((_, i) => committed[i]).map((p) => callsOf(p, labelled('w')).commit))
      await sys.increaseTime(market.commitWindow + 1n)
      const expired = await send(requester, sys.market, jobMarketAbi, 'expireAssignment', [jobId])
      const reopened = (await timestampOf(expired)) <= deadline
      const slots = chosen.map((p, i) => ({ provider: p.address, collateral: collateralFor(p), committed: committed[i] }))
      const expected = settleNoShows({ escrow, slots, prior, reopened, bond: audit.bond })
      expect(marketEvents(expired, 'AssignmentExpired')).toEqual([{ jobId, reopened }])
      expectSlotsSettled(expired, jobId, expected.outcomes)
      for (const s of reopened ? [] : prior) collaterals.set(s.provider, s.collateral)
      expect(marketEvents(expired, 'NoShow')).toEqual(chosen.filter((_, i) => !committed[i]).map((p) => ({ jobId, provider: p.address })))
      expect(marketEvents(expired, 'Refunded')).toEqual(reopened ? [] : [{ jobId, requester: requester.address, amount: escrow }])
      expect(marketEvents(expired, 'AuditSettled')).toEqual(
        expected.auditSettled ? [{ jobId, ...auditEventOf(expected.auditSettled) }] : [],
      )
      expectCollateralReleased(expired, jobId, collaterals, expected, sys.market)
      expectRefundsWithinDeposit(expired)
      for (const [i, p] of chosen.entries()) if (!committed[i]) excluded.add(p.address)
      count(`optimistic ${stage()} no-show, ${reopened ? 'reopened' : 'expired'}`)
      if (!reopened) break
      continue
    }

    // Labels, not yet fingerprints. The original tells the truth, lies, reports the job's failure or stays silent; an
    // auditor or judge mostly tells the truth (as its machine rounds it), or sides with the original, lies, or is silent.
    const alt = () => (rand.next() < 0.3 ? `opaque ${rand.int(0, 1)}` : `alt ${rand.int(0, 2)}`)
    const originalLabel = priorLabels[0] ?? null
    const labelFor = (p: LocalAccount): string | null => {
      const x = rand.next()
      if (prior.length === 0) return x < 0.45 ? 'w' : x < 0.7 ? alt() : x < 0.9 ? 'failure' : null
      if (x < 0.35) return 'w'
      if (x < 0.5) return `w~${p.address}`
      if (x < 0.65) return originalLabel
      return x < 0.85 ? alt() : x < 0.95 ? null : 'failure'
    }
    const labels = chosen.map(labelFor)
    // Judges often agree outright, so a verdict (not only a split) comes up.
    if (labels.length === 2 && rand.next() < 0.5) labels[1] = labels[0]?.startsWith('w~') ? `w~${chosen[1].address}` : labels[0]
    const reveals = labels.map((label) => (label === null ? null : label === 'failure' ? failure : labelled(label)))
    const results = chosen.map((p, i) => callsOf(p, reveals[i] ?? labelled('never revealed')))
    const slots: SettlementSlot[] = chosen.map((p, i) => ({
      provider: p.address,
      ask: asks.get(p.address) ?? 0n,
      collateral: collateralFor(p),
      fingerprint: reveals[i],
    }))
    await sendAll(results.map((r) => r.commit))
    const beforeReveals = [await fundBalance(), await supply()]
    const revealed = await sendAll(results.filter((_, i) => reveals[i] !== null).map((r) => r.reveal))
    const lastReveal = expectSettledAtReveal(revealed, settlesAtReveal({ slots, prior, verification: 1 }))
    if (lastReveal) count('optimistic: an audit round settled by its last reveal')
    if (reveals.includes(null)) await sys.increaseTime(market.revealWindow + 1n)
    const revealedHere = chosen.flatMap((p, i) =>
      labels[i] !== null && labels[i] !== 'failure' ? [{ provider: p.address, label: labels[i] }] : [],
    )
    await scene.keep({ jobId, priorResults, revealedHere, proofs, askPrior: true })

    if (prior.length === 0 && reveals[0] !== null) {
      // The spot check: the hash of the block after the reveal decides, so mine it and one more to read it. Which way
      // it goes is the chain's; the draw picks the way it wants and the block is mined again, by another miner, until
      // the chain agrees, so the jobs' paths (and this test's coverage) are the same from run to run.
      const revealBlock = (revealed.at(-1) as TransactionReceipt).blockNumber
      expect((await read<{ revealBlock: bigint }>(sys.market, jobMarketAbi, 'getAudit', [jobId])).revealBlock).toBe(revealBlock)
      const { spotCheckBps, auditThreshold } = market
      const want = price * units >= auditThreshold ? AuditKind.Threshold : rand.next() < 0.4 ? AuditKind.Spot : AuditKind.None
      let kind = AuditKind.None
      for (let miner = 1; ; miner++) {
        const snapshot = await sys.snapshot()
        await sys.testClient.setCoinbase({ address: pad(toHex(miner), { size: 20 }) })
        await sys.testClient.mine({ blocks: 2 })
        kind = await read<AuditKind>(sys.market, jobMarketAbi, 'spotCheckOf', [jobId])
        const seed = (await sys.publicClient.getBlock({ blockNumber: revealBlock + 1n })).hash
        const mirrored = price * units >= auditThreshold ? AuditKind.Threshold : spotCheckOf({ seed, jobId, spotCheckBps })
        expect(kind, 'spotCheckOf, protocol/spotCheck.ts').toBe(mirrored)
        if (kind === want || miner === MAX_SPOT_CHECK_MINERS) break
        await sys.revert(snapshot)
        count('spot check mined again')
      }
      count(`spot check ${AuditKind[kind]}`)
      if (rand.next() < 0.35) {
        // Anyone may challenge within the window, selected or not: the bond buys an audit now.
        await topUp(challenger, bond)
        const challenged = await send(challenger, sys.market, jobMarketAbi, 'challenge', [jobId])
        expect(marketEvents(challenged, 'Challenged')).toEqual([{ jobId, challenger: challenger.address, bond }])
        await expectAuditStarted(challenged, { kind: AuditKind.Challenge, auditors: 1 })
        audit = { kind: AuditKind.Challenge, bond }
        ;[prior, priorResults, priorLabels] = [slots, revealedHere, labels]
        excluded.add(chosen[0].address)
        continue
      }
      audit = { kind, bond: 0n }
      if (kind === AuditKind.None) {
        if (rand.next() < 0.3) {
          await expect(send(matcher, sys.market, jobMarketAbi, 'finalize', [jobId])).rejects.toThrow(/ChallengeWindowOpen/)
          count('optimistic: finalize before the challenge window closed refused')
        }
        await sys.increaseTime(market.challengeWindow + 1n)
      }
    }

    const [fundBefore, supplyBefore] = lastReveal ? beforeReveals : [await fundBalance(), await supply()]
    const finalized = lastReveal ?? (await send(matcher, sys.market, jobMarketAbi, 'finalize', [jobId]))
    const deadlinePassed = (await timestampOf(finalized)) > deadline
    const expected = settleJob({
      escrow,
      units,
      slots,
      prior,
      deadlinePassed,
      proofs,
      verification: 1,
      audit,
      auditFund: fundBefore,
      params: market,
    })
    const [fundAfter, supplyAfter] = [await fundBalance(), await supply()]
    expect(fundAfter - fundBefore, 'audit fund change').toBe(expected.auditSettled?.auditFundChange ?? 0n)
    if (expected.status === 'DISPUTED') {
      await expectAuditStarted(finalized, defined(expected.auditStarted, 'an audit: an optimistic job waits only for auditors'))
      expect(supplyAfter).toBe(supplyBefore)
      ;[prior, priorResults, priorLabels] = [
        [...prior, ...slots],
        [...priorResults, ...revealedHere],
        [...priorLabels, ...labels],
      ]
      for (const p of chosen) excluded.add(p.address)
      if (rand.next() < 0.08) {
        // Nobody takes the audit: past its deadline the job expires, escrow and bond back, the parties released.
        await sys.increaseTime(deadline - (await sys.now()) + 1n)
        const closed = await send(requester, sys.market, jobMarketAbi, 'expire', [jobId])
        const abandoned = settleExpiry({ escrow, prior, bond: audit.bond })
        expect(marketEvents(closed, 'Refunded')).toEqual([{ jobId, requester: requester.address, amount: escrow }])
        expect(marketEvents(closed, 'AuditSettled')).toEqual(
          abandoned.auditSettled ? [{ jobId, ...auditEventOf(abandoned.auditSettled) }] : [],
        )
        expectSlotsSettled(closed, jobId, abandoned.outcomes)
        expectCollateralReleased(closed, jobId, new Map(prior.map((s) => [s.provider, s.collateral])), abandoned, sys.market)
        expectRefundsWithinDeposit(closed)
        count('optimistic: audit abandoned, expired')
        break
      }
      continue
    }
    for (const s of prior) collaterals.set(s.provider, s.collateral)
    expectSettled(finalized, jobId, requester.address, expected, collaterals, sys.market, supplyBefore - supplyAfter)
    const reimbursed = expected.auditSettled?.reimbursed ?? 0n
    const pool = expected.status === 'FAILED' ? 0n : expected.slashed.reduce((sum, x) => sum + x.toBeneficiary, 0n)
    expectRefundsWithinDeposit(finalized, reimbursed, pool - expected.shares.reduce((sum, x) => sum + x.amount, 0n))
    const status = expected.status.toLowerCase().replace('_', ' ')
    const kind = AuditKind[audit.kind]
    count(`optimistic ${stage()} ${status}`)
    count(`optimistic ${kind} ${status}`)
    if (expected.auditSettled?.premium) count('premium paid')
    if (reimbursed > 0n) count('reimbursed')
    if (reimbursed > 0n) count(reimbursed === fundBefore ? 'reimbursement took the whole fund' : 'reimbursed in full')
    if (expected.auditSettled?.bondBurned) count(`bond lost, half to the provider (${bond % 2n ? 'odd: rounded down' : 'even'})`)
    if (expected.auditSettled?.bondReturned) count('bond returned')
    if (stage() === 'audit' && reveals[0] === null) count('silent auditor, original stands')
    if (stage() === 'judges' && expected.status !== 'FAILED') {
      const originalWon = expected.unlocked.includes(prior[0].provider)
      count(originalWon ? 'judges: original upheld' : 'judges: original overturned')
    }
    if (expected.status !== 'FAILED' && failureReasonCode(expected.fingerprint ?? zeroHash) > 0) count('optimistic failure code won')
    break
  }
  count('optimistic jobs')
}

/** `AuditSettled`'s arguments (bar the job id) from the mirror's audit settlement. */
function auditEventOf(audit: NonNullable<Settlement['auditSettled']>) {
  const { premium, reimbursed, toProvider, bondBurned, bondReturned } = audit
  return { premium, reimbursed, toProvider, bondBurned, bondReturned }
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

test('JobMarket and settlement.ts agree wei for wei on random jobs, reveal patterns, no-shows and audits', {
  timeout: 180_000,
}, async () => {
  const started = Date.now()
  const rand = prng(SEED)
  const stats: Stats = {}
  for (const [i, scenario] of scenarios(rand).entries()) await runScenario(scenario, rand, prng(OPTIMISTIC_SEED + i + 1), stats)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`settlement parity: ${stats.jobs} redundant and ${stats['optimistic jobs']} optimistic jobs in ${seconds} s`, stats)
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
    // Optimistic jobs: which of these come up follows the chain's spot checks, so each is drawn many times over.
    'optimistic magnitude top',
    'spot check None',
    'spot check Spot',
    'spot check Threshold',
    'optimistic original completed',
    'optimistic original failed',
    'premium paid',
    'optimistic: finalize before the challenge window closed refused',
    'audit started, Spot',
    'audit started, Threshold',
    'audit started, Challenge',
    'optimistic: party to the audit refused',
    'optimistic audit completed',
    'optimistic Spot completed',
    'silent auditor, original stands',
    'audit escalated, Challenge',
    'audit escalated, Threshold',
    'optimistic judges completed',
    'optimistic judges failed',
    'judges: original upheld',
    'judges: original overturned',
    'optimistic failure code won',
    'reimbursed in full',
    'reimbursement took the whole fund',
    'bond lost, half to the provider (odd: rounded down)',
    'bond returned',
    'optimistic audit no-show, reopened',
    'optimistic: audit abandoned, expired',
  ]) {
    expect(stats[key] ?? 0, key).toBeGreaterThan(0)
  }
})
