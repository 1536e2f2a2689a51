import { describe, expect, test } from 'vitest'
import { TSR } from '../../protocol/units.ts'
import { UserInputError } from '../errors.ts'
import { provider } from './fixtures.ts'
import type { JobSpec } from './matchJobs.ts'
import { etaSecondsOf, type JobQueue, quoteJob } from './quoteJob.ts'

const spec: JobSpec = {
  maxPricePerUnit: 100n,
  units: 10n,
  redundancy: 2,
  verification: 'REDUNDANT',
  minVramMib: 8000n,
  gpuModel: 0n,
  regions: [],
}
const optimistic: JobSpec = { ...spec, verification: 'OPTIMISTIC', redundancy: 1 }
// 50 % collateral (1250 % optimistic), 10 % take, 8 % spot checks, jobs worth 10 000 or more always audited: a provider
// asking 10 locks 10 × 10 × 0.5 = 50 (1250 optimistic), none more than 100 × 10 × 0.5 = 500 per slot (12 500 optimistic);
// escrow 100 × 10 × 2 = 2000 plus 200 take, whether k = 2 or optimistic.
const params = {
  registry: { minStake: 100n * TSR },
  market: {
    collateralBps: 5000n,
    optimisticCollateralBps: 125_000n,
    takeBps: 1000n,
    minTake: 0n,
    spotCheckBps: 800n,
    auditThreshold: 10_000n,
    commitWindow: 120n,
    revealWindow: 120n,
  },
}

describe('quoteJob', () => {
  test('prices the k cheapest eligible providers, and the same job run optimistic', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    const redundant = {
      reason: 'OK',
      providers: 2,
      eligibleProviders: 3,
      pricePerUnit: 20n, // the dearer of the two picked (10 and 20)
      fees: 300n, // 10 × 10 + 20 × 10
      escrow: 2200n,
      cost: 330n, // the fees and their 10 % take
      collateralPerSlot: 500n,
      etaSeconds: null, // no queue given
    }
    const asOptimistic = {
      reason: 'OK',
      providers: 1,
      eligibleProviders: 3,
      pricePerUnit: 10n,
      fees: 100n, // the cheapest alone
      escrow: 2200n, // a second execution held for an audit, refunded when none happens
      cost: 118n, // 100 + 10 take + 8 premium (spotCheckBps of the fees, into the audit fund)
      collateralPerSlot: 12_500n,
      etaSeconds: null,
    }
    expect(quoteJob({ spec, providers, params })).toEqual({ ...redundant, redundant, optimistic: asOptimistic })
    // The optimistic spec: its own mode at the top, the redundant one quoted at k = 2.
    expect(quoteJob({ spec: optimistic, providers, params })).toEqual({ ...asOptimistic, redundant, optimistic: asOptimistic })
    // A k = 3 spec prices three providers redundant; optimistic is the same one provider.
    const k3 = quoteJob({ spec: { ...spec, redundancy: 3 }, providers, params })
    expect(k3).toMatchObject({ providers: 3, fees: 600n, escrow: 3300n, cost: 660n, optimistic: asOptimistic })
  })

  test('an optimistic job worth the audit threshold is always audited: two providers, both executions, no premium', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    const big = { ...optimistic, maxPricePerUnit: 1000n } // 1000 × 10 = 10 000: at the threshold
    expect(quoteJob({ spec: big, providers, params })).toMatchObject({
      reason: 'OK',
      providers: 2,
      pricePerUnit: 20n,
      fees: 300n, // the original's run and the auditor's
      cost: 330n, // paid in full: a threshold audit is never reimbursed, and pays no premium
      escrow: 22_000n,
    })
    // With one eligible provider the audit could never run.
    expect(quoteJob({ spec: big, providers: providers.slice(0, 1), params }).reason).toBe('NOT_ENOUGH_PROVIDERS')
    // A wei per unit below the threshold: spot-checked like any other.
    const below = quoteJob({ spec: { ...optimistic, maxPricePerUnit: 999n }, providers, params })
    expect(below).toMatchObject({ providers: 1, fees: 100n, cost: 118n })
  })

  test('optimistic eligibility counts the optimistic collateral: a provider short of it fits only redundant jobs', () => {
    // 1000 wei free: a redundant slot (50) fits, an optimistic one (1250) does not.
    const providers = [provider(1, { locked: 1000n * TSR - 1000n }), provider(2, { locked: 1000n * TSR - 1000n })]
    const quote = quoteJob({ spec, providers, params })
    expect(quote.redundant).toMatchObject({ reason: 'OK', eligibleProviders: 2 })
    expect(quote.optimistic).toMatchObject({ reason: 'NOT_ENOUGH_PROVIDERS', eligibleProviders: 0, fees: null, cost: null })
  })

  test('an optimistic spec with a redundancy other than 1 is refused, naming the field', () => {
    for (const redundancy of [0, 2, 3]) {
      const attempt = () => quoteJob({ spec: { ...optimistic, redundancy }, providers: [provider(1)], params })
      expect(attempt).toThrow(UserInputError)
      expect(attempt).toThrow(`spec.redundancy must be 1 for an Optimistic job`)
      expect(attempt).toThrow(`got ${redundancy}`)
    }
  })

  test('a spec JobMarket would refuse is refused, naming each field, never answered OK', () => {
    const refused = (overrides: Partial<JobSpec>) => () => quoteJob({ spec: { ...spec, ...overrides }, providers: [provider(1)], params })
    for (const redundancy of [0, -1, 1, 17])
      expect(refused({ redundancy })).toThrow(`spec.redundancy must be 2 to 16 for a Redundant job, got ${redundancy}`)
    expect(refused({ maxPricePerUnit: -1n })).toThrow('spec.maxPricePerUnit must be positive (wei per unit), got -1')
    expect(refused({ maxPricePerUnit: 0n })).toThrow('spec.maxPricePerUnit must be positive')
    expect(refused({ units: 0n })).toThrow('spec.units must be 1 to 2^64 − 1, got 0')
    expect(refused({ units: 2n ** 64n })).toThrow('spec.units must be 1 to 2^64 − 1')
    expect(refused({ maxPricePerUnit: 2n ** 200n, units: 2n ** 60n })).toThrow('spec.maxPricePerUnit × units × 2 overflows the escrow')
    expect(refused({ minVramMib: -1n })).toThrow('spec.minVramMiB must fit a uint32 (0 to 2^32 − 1), got -1')
    expect(refused({ gpuModel: 2n ** 32n })).toThrow('spec.gpuModel must fit a uint32')
    expect(refused({ regions: Array.from({ length: 17 }, (_, i) => `0x${i.toString(16).padStart(64, '0')}`) })).toThrow(
      'spec.regions must name at most 16 regions, got 17',
    )
    // Every problem at once, each by its field.
    const all = refused({ redundancy: 0, maxPricePerUnit: -5n, units: -1n })
    expect(all).toThrow(/spec\.redundancy .*; spec\.units .*; spec\.maxPricePerUnit must be positive \(wei per unit\), got -5/)
  })

  test('the ETA: rounds of the queue ahead over the eligible providers, each as long as jobs took lately', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    const eta = (queue: JobQueue, job = spec) => quoteJob({ spec: job, providers, params, queue })
    // An empty queue: one round, as long as the median job lately.
    expect(eta({ waitingJobs: 0, waitingSlots: 0, recentJobSeconds: 40 }).etaSeconds).toBe(40)
    // Five slots ahead over three eligible providers: one full round first, then its own.
    expect(eta({ waitingJobs: 3, waitingSlots: 5, recentJobSeconds: 40 }).etaSeconds).toBe(80)
    expect(eta({ waitingJobs: 3, waitingSlots: 6, recentJobSeconds: 40 }).etaSeconds).toBe(120)
    // No job completed yet: a round is the commit and reveal windows.
    expect(eta({ waitingJobs: 0, waitingSlots: 0, recentJobSeconds: null }).etaSeconds).toBe(240)
    // Nothing fits, no ETA: the max price is below every ask.
    const tooCheap = eta({ waitingJobs: 0, waitingSlots: 0, recentJobSeconds: 40 }, { ...spec, maxPricePerUnit: 5n })
    expect(tooCheap).toMatchObject({ reason: 'MAX_PRICE_TOO_LOW', etaSeconds: null })
    expect(etaSecondsOf({ eligible: 0, queue: { waitingJobs: 0, waitingSlots: 0, recentJobSeconds: 1 }, market: params.market })).toBeNull()
  })

  test('too high asks: MAX_PRICE_TOO_LOW, no price, fees or cost, the same escrow', () => {
    const providers = [provider(1, { pricePerUnit: 150n }), provider(2, { pricePerUnit: 101n }), provider(3, { pricePerUnit: 100n })]
    expect(quoteJob({ spec, providers, params })).toMatchObject({
      reason: 'MAX_PRICE_TOO_LOW',
      providers: 2,
      eligibleProviders: 1,
      pricePerUnit: null,
      fees: null,
      escrow: 2200n,
      cost: null,
      collateralPerSlot: 500n,
    })
    // One provider at the max price is enough for the optimistic run.
    expect(quoteJob({ spec, providers, params }).optimistic).toMatchObject({ reason: 'OK', pricePerUnit: 100n, cost: 1180n })
  })

  test('enough providers but too few heartbeating: TOO_FEW_LIVE_PROVIDERS', () => {
    const providers = [provider(1), provider(2, { live: false }), provider(3, { live: false })]
    expect(quoteJob({ spec, providers, params })).toMatchObject({ reason: 'TOO_FEW_LIVE_PROVIDERS', eligibleProviders: 1 })
  })

  test('too few providers meet the hardware, stake and collateral requirements: NOT_ENOUGH_PROVIDERS', () => {
    const providers = [
      provider(1),
      provider(2, { vramMib: 7999n }),
      provider(3, { locked: 1000n * TSR - 49n }), // 49 wei of free stake: short of its 50 collateral
      provider(4, { paused: true, live: false }),
    ]
    expect(quoteJob({ spec, providers, params })).toMatchObject({ reason: 'NOT_ENOUGH_PROVIDERS', eligibleProviders: 1, fees: null })
    const enough = [...providers, provider(5, { locked: 1000n * TSR - 50n })]
    expect(quoteJob({ spec, providers: enough, params })).toMatchObject({ reason: 'OK', eligibleProviders: 2, fees: 200n })
  })

  test("judges collateral as the matcher does: by each provider's own ask, however high the max price", () => {
    // 60 wei free: enough for an ask of 10 (collateral 50) but not one of 20 (100), even at a max price of 10^30.
    const providers = [
      provider(1, { locked: 1000n * TSR - 60n }),
      provider(2, { locked: 1000n * TSR - 60n, pricePerUnit: 20n }),
      provider(3, { locked: 1000n * TSR - 60n }),
    ]
    expect(quoteJob({ spec: { ...spec, maxPricePerUnit: 10n ** 30n }, providers, params })).toMatchObject({
      reason: 'OK',
      eligibleProviders: 2,
      pricePerUnit: 10n,
    })
  })
})
