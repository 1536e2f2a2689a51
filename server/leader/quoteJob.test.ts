import { describe, expect, test } from 'vitest'
import { TSR } from '../../protocol/units.ts'
import { provider } from './fixtures.ts'
import type { JobSpec } from './matchJobs.ts'
import { quoteJob } from './quoteJob.ts'

const spec: JobSpec = { maxPricePerUnit: 100n, units: 10n, redundancy: 2, minVramMib: 8000n, gpuModel: 0n, regions: [] }
// 50 % collateral, 10 % take: a provider asking 10 locks 10 × 10 × 0.5 = 50, none more than 100 × 10 × 0.5 = 500 per slot;
// escrow 100 × 10 × 2 = 2000 plus 200 take.
const params = { registry: { minStake: 100n * TSR }, market: { collateralBps: 5000n, optimisticCollateralBps: 125_000n, takeBps: 1000n } }

describe('quoteJob', () => {
  test('prices the k cheapest eligible providers', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    expect(quoteJob({ spec, providers, params })).toEqual({
      reason: 'OK',
      eligibleProviders: 3,
      pricePerUnit: 20n, // the dearer of the two picked (10 and 20)
      fees: 300n, // 10 × 10 + 20 × 10
      escrow: 2200n,
      collateralPerSlot: 500n,
    })
  })

  test('too high asks: MAX_PRICE_TOO_LOW, no price or fees, the same escrow', () => {
    const providers = [provider(1, { pricePerUnit: 150n }), provider(2, { pricePerUnit: 101n }), provider(3, { pricePerUnit: 100n })]
    expect(quoteJob({ spec, providers, params })).toEqual({
      reason: 'MAX_PRICE_TOO_LOW',
      eligibleProviders: 1,
      pricePerUnit: null,
      fees: null,
      escrow: 2200n,
      collateralPerSlot: 500n,
    })
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
    const providers = [provider(1, { locked: 1000n * TSR - 60n }), provider(2, { locked: 1000n * TSR - 60n, pricePerUnit: 20n })]
    expect(quoteJob({ spec: { ...spec, maxPricePerUnit: 10n ** 30n, redundancy: 1 }, providers, params })).toMatchObject({
      reason: 'OK',
      eligibleProviders: 1,
      pricePerUnit: 10n,
    })
  })

  test('k = 0 quotes nothing to pick and nothing to escrow', () => {
    const quote = quoteJob({ spec: { ...spec, redundancy: 0 }, providers: [provider(1)], params })
    expect(quote).toEqual({ reason: 'OK', eligibleProviders: 1, pricePerUnit: null, fees: null, escrow: 0n, collateralPerSlot: 500n })
  })
})
