import { describe, expect, test } from 'vitest'
import { reputationOf } from '../../protocol/reputation.ts'
import { TSR } from '../../protocol/units.ts'
import { addr, job, modelA, provider, regionEu, regionUs } from './fixtures.ts'
import { candidateScore, type MatchProvider, matchJobs, matchWeights, slotCollateralOf } from './matchJobs.ts'

const params = { registry: { minStake: 100n * TSR }, market: { collateralBps: 10_000n, optimisticCollateralBps: 125_000n } }
const base = { params, now: 1000n }
const day = 24 * 60 * 60
const picked = (providers: MatchProvider[], over: Parameters<typeof job>[1] = {}) =>
  matchJobs({ ...base, jobs: [job(1n, { redundancy: 1, ...over })], providers }).assignments[0]?.providers

describe('matchJobs', () => {
  test('picks the k cheapest distinct providers', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    const { assignments } = matchJobs({ ...base, jobs: [job(1n)], providers })
    // Each locks its own ask × 10 units (collateralBps 10 000).
    expect(assignments).toEqual([{ jobId: 1n, providers: [addr(2), addr(3)], collaterals: [100n, 200n] }])
  })

  test("collateral follows each provider's ask, not the requester's max price", () => {
    // The adversary offers 10^30 per unit; at max price × units the slot would need 10^31 of stake, far above 1000 TSR.
    const greedy = job(1n, { maxPricePerUnit: 10n ** 30n })
    const { assignments } = matchJobs({ ...base, jobs: [greedy], providers: [provider(1), provider(2, { pricePerUnit: 20n })] })
    expect(assignments).toEqual([{ jobId: 1n, providers: [addr(1), addr(2)], collaterals: [100n, 200n] }])
  })

  test('a reserved job (a challenge) goes to its provider only, even when others score higher', () => {
    const providers = [provider(1, { pricePerUnit: 1n }), provider(2, { pricePerUnit: 50n }), provider(3)]
    const reservedFor = addr(2).toUpperCase().replace('0X', '0x')
    expect(picked(providers, { reservedFor })).toEqual([addr(2)])
    // Unpicked jobs of the same round still get the best provider.
    const { assignments } = matchJobs({ ...base, jobs: [job(1n, { redundancy: 1, reservedFor }), job(2n, { redundancy: 1 })], providers })
    expect(assignments.map((a) => [a.jobId, a.providers])).toEqual([
      [1n, [addr(2)]],
      [2n, [addr(1)]],
    ])
    // Its provider ineligible (paused, or a no-show of the job): the job waits for it or expires, never goes elsewhere.
    const r = matchJobs({
      ...base,
      jobs: [job(1n, { redundancy: 1, reservedFor })],
      providers: [providers[0], provider(2, { paused: true })],
    })
    expect(r.assignments).toEqual([])
    expect(r.skipped).toEqual([{ jobId: 1n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 0 }])
    expect(picked(providers, { reservedFor, noShows: [addr(2)] })).toBeUndefined()
  })

  test('never gives a job back to a provider that no-showed it (JobMarket would revert ProviderWasNoShow)', () => {
    // Providers 1 and 2 are the cheapest, but both no-showed job 1: it goes to 3 and 4, while job 2 still gets 1 and 2.
    const providers = [provider(1, { pricePerUnit: 1n }), provider(2, { pricePerUnit: 2n }), provider(3), provider(4)]
    const noShows = [addr(1).toUpperCase().replace('0X', '0x'), addr(2)]
    const { assignments } = matchJobs({ ...base, jobs: [job(1n, { noShows }), job(2n)], providers })
    expect(assignments.map((a) => [a.jobId, a.providers])).toEqual([
      [1n, [addr(3), addr(4)]],
      [2n, [addr(1), addr(2)]],
    ])
    // With only the no-shows left, the job waits rather than send an assign that would revert.
    const r = matchJobs({ ...base, jobs: [job(1n, { noShows })], providers: providers.slice(0, 3) })
    expect(r.assignments).toEqual([])
    expect(r.skipped).toEqual([{ jobId: 1n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 1 }])
  })

  test("a disputed job's tie-break goes to fresh providers, never its first round nor its no-shows", () => {
    // 1 and 2 disagreed in the first round, 3 no-showed the tie-break's first try: JobMarket would revert an assign to
    // any of them (ProviderInDispute, ProviderWasNoShow). Job 2 isn't disputed and still gets the cheapest.
    const providers = [
      provider(1, { pricePerUnit: 1n }),
      provider(2, { pricePerUnit: 2n }),
      provider(3, { pricePerUnit: 3n }),
      provider(4),
      provider(5),
    ]
    const disputed = job(1n, { disputedProviders: [addr(1).toUpperCase().replace('0X', '0x'), addr(2)], noShows: [addr(3)] })
    const { assignments } = matchJobs({ ...base, jobs: [disputed, job(2n)], providers })
    expect(assignments.map((a) => [a.jobId, a.providers])).toEqual([
      [1n, [addr(4), addr(5)]],
      [2n, [addr(1), addr(2)]],
    ])
    // Fewer than k fresh providers: the job waits (or expires) rather than send an assign that would revert.
    const r = matchJobs({ ...base, jobs: [disputed], providers: providers.slice(0, 4) })
    expect(r.assignments).toEqual([])
    expect(r.skipped).toEqual([{ jobId: 1n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 1 }])
  })

  test('an optimistic job gets one provider, locking optimisticCollateralBps of its own ask', () => {
    const providers = [provider(1, { pricePerUnit: 30n }), provider(2, { pricePerUnit: 10n }), provider(3, { pricePerUnit: 20n })]
    const { assignments } = matchJobs({ ...base, jobs: [job(1n, { verification: 'OPTIMISTIC', redundancy: 1 })], providers })
    // 10 × 10 units × 12.5 (optimisticCollateralBps 125 000), where a redundant slot would lock 100.
    expect(assignments).toEqual([{ jobId: 1n, providers: [addr(2)], collaterals: [1250n] }])
    expect(slotCollateralOf(provider(2), job(1n, { verification: 'OPTIMISTIC' }), params)).toBe(1250n)
    expect(slotCollateralOf(provider(2), job(1n), params)).toBe(100n)
    // Free stake that covers a redundant slot but not 12.5 times it: not eligible for the optimistic job.
    const thin = provider(4, { pricePerUnit: 1n, stake: 100n * TSR + 124n, locked: 100n * TSR })
    expect(picked([thin, provider(5)], { verification: 'OPTIMISTIC' })).toEqual([addr(5)])
    expect(picked([thin, provider(5)])).toEqual([addr(4)])
  })

  test("an optimistic job's audit goes to one fresh provider, never the original, at optimistic collateral", () => {
    // After AuditStarted(auditors 1) the indexed row is DISPUTED with redundancy 1 and the original in disputedProviders.
    const providers = [provider(1, { pricePerUnit: 1n }), provider(2, { pricePerUnit: 20n }), provider(3, { pricePerUnit: 30n })]
    const audit = job(1n, { verification: 'OPTIMISTIC', redundancy: 1, disputedProviders: [addr(1)] })
    expect(matchJobs({ ...base, jobs: [audit], providers }).assignments).toEqual([
      { jobId: 1n, providers: [addr(2)], collaterals: [2500n] },
    ])
    // Only the original left: the audit waits (assign would revert ProviderInDispute).
    const r = matchJobs({ ...base, jobs: [audit], providers: providers.slice(0, 1) })
    expect(r.assignments).toEqual([])
    expect(r.skipped).toEqual([{ jobId: 1n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 0 }])
  })

  test("an escalated audit's tie-break goes to two fresh providers, neither the original nor the auditor", () => {
    // After AuditStarted(auditors 2): redundancy 2, disputedProviders [original, auditor].
    const providers = [provider(1, { pricePerUnit: 1n }), provider(2, { pricePerUnit: 2n }), provider(3), provider(4), provider(5)]
    const escalated = job(1n, { verification: 'OPTIMISTIC', redundancy: 2, disputedProviders: [addr(1), addr(2)], noShows: [addr(3)] })
    expect(matchJobs({ ...base, jobs: [escalated], providers }).assignments).toEqual([
      { jobId: 1n, providers: [addr(4), addr(5)], collaterals: [1250n, 1250n] },
    ])
    const r = matchJobs({ ...base, jobs: [escalated], providers: providers.slice(0, 4) })
    expect(r.skipped).toEqual([{ jobId: 1n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 1 }])
  })

  test('ties break by fewer active assignments, then by address', () => {
    const providers = [provider(3), provider(2, { activeAssignments: 1 }), provider(1, { activeAssignments: 1 }), provider(4)]
    expect(matchJobs({ ...base, jobs: [job(1n)], providers }).assignments[0]?.providers).toEqual([addr(3), addr(4)])
    const even = [provider(3), provider(2), provider(1)]
    expect(matchJobs({ ...base, jobs: [job(1n)], providers: even }).assignments[0]?.providers).toEqual([addr(1), addr(2)])
  })

  test('a provider with a bad recent record loses a job to an otherwise equal one', () => {
    // Provider 1 would win the tie on its address; a dissent an hour ago costs it the job, to a newcomer.
    const dissented = reputationOf({ outcomes: [{ outcome: 'DISSENTED', ageSeconds: 3600 }] }).score
    expect(picked([provider(1, { reputation: dissented }), provider(2)])).toEqual([addr(2)])
    expect(picked([provider(1), provider(2)])).toEqual([addr(1)])
    // The same fault two months old has faded: a record of agreed jobs since puts it ahead again.
    const reformed = reputationOf({
      outcomes: [
        { outcome: 'DISSENTED', ageSeconds: 60 * day },
        ...Array.from({ length: 3 }, () => ({ outcome: 'AGREED' as const, ageSeconds: day })),
      ],
    }).score
    expect(picked([provider(2), provider(1, { reputation: reformed })])).toEqual([addr(1)])
    const noShows = reputationOf({ outcomes: Array.from({ length: 3 }, () => ({ outcome: 'NO_SHOW' as const, ageSeconds: day })) }).score
    expect(picked([provider(1, { reputation: noShows }), provider(2, { reputation: reformed })])).toEqual([addr(2)])
  })

  test("a provider holding the job's model warm wins over a cold one (any case of hash)", () => {
    const warm = provider(2, { warmModels: [`0x${'00'.repeat(32)}`, modelA.toUpperCase().replace('0X', '0x')] })
    expect(picked([provider(1), warm])).toEqual([addr(2)])
    // Warm with another model is cold for this job.
    expect(picked([provider(1), warm], { modelHash: `0x${'b2'.repeat(32)}` })).toEqual([addr(1)])
  })

  test('price and load still matter against reputation', () => {
    const trusted = reputationOf({ outcomes: Array.from({ length: 5 }, () => ({ outcome: 'AGREED' as const, ageSeconds: day })) }).score
    expect(trusted).toBeGreaterThan(0.7)
    // Asking 60 of a max 100: a newcomer asking 10 undercuts it enough, one asking 50 does not.
    expect(picked([provider(1, { reputation: trusted, pricePerUnit: 60n }), provider(2, { pricePerUnit: 10n })])).toEqual([addr(2)])
    expect(picked([provider(1, { reputation: trusted, pricePerUnit: 60n }), provider(2, { pricePerUnit: 50n })])).toEqual([addr(1)])
    // Equal asks: the trusted one wins while idle, loses with four jobs in flight, and a job picked this tick counts.
    expect(picked([provider(1, { reputation: trusted }), provider(2)])).toEqual([addr(1)])
    expect(picked([provider(1, { reputation: trusted, activeAssignments: 4 }), provider(2)])).toEqual([addr(2)])
    const slightlyBetter = provider(1, { reputation: 0.55 })
    const r = matchJobs({
      ...base,
      jobs: [job(1n, { redundancy: 1 }), job(2n, { redundancy: 1 })],
      providers: [slightlyBetter, provider(2)],
    })
    expect(r.assignments.map((a) => a.providers)).toEqual([[addr(1)], [addr(2)]])
  })

  test('an idle newcomer gets a share of a burst that two warm veterans would otherwise take whole', () => {
    // The devnet bench's three agents: two had earned near-perfect records in the quiet jobs before the burst, the third
    // one job's. With load a bounded term of the score, the veterans took every one of 1,500 jobs (k = 2) and the third
    // none; its reputation never moved, so it never would have.
    const veteran = reputationOf({ outcomes: Array.from({ length: 50 }, () => ({ outcome: 'AGREED' as const, ageSeconds: 60 })) }).score
    const once = reputationOf({ outcomes: [{ outcome: 'AGREED', ageSeconds: 60 }] }).score
    expect(veteran - once).toBeGreaterThan(0.3)
    const warm = { warmModels: [modelA] }
    const providers = [
      provider(1, { ...warm, reputation: veteran }),
      provider(2, { ...warm, reputation: veteran }),
      provider(3, { ...warm, reputation: once }),
    ]
    const { assignments } = matchJobs({ ...base, jobs: Array.from({ length: 300 }, (_, i) => job(BigInt(i + 1))), providers })
    const count = (p: number) => assignments.filter((a) => a.providers.includes(addr(p))).length
    expect(assignments).toHaveLength(300)
    // Quality still counts: the veterans carry more, but the newcomer carries a real share.
    expect(count(1)).toBeGreaterThan(count(3))
    expect(count(3)).toBeGreaterThan(120)
    // In flight, the veterans' scores fell to the newcomer's: quality ÷ (1 + load / loadHalving) evens out.
    const [first, , third] = providers as [MatchProvider, MatchProvider, MatchProvider]
    expect(candidateScore(first, job(1n), count(1))).toBeCloseTo(candidateScore(third, job(1n), count(3)), 2)
  })

  test('candidateScore: a weighted sum in [0, 1], 1 for an idle, fully reputable, warm provider asking nothing', () => {
    expect(Object.values(matchWeights).reduce((a: number, b) => a + b, 0)).toBeCloseTo(1, 12)
    const j = job(1n)
    expect(candidateScore({ reputation: 1, pricePerUnit: 0n, warmModels: [modelA] }, j, 0)).toBeCloseTo(1, 12)
    expect(candidateScore({ reputation: 0, pricePerUnit: j.maxPricePerUnit, warmModels: [] }, j, 1e9)).toBeCloseTo(0, 6)
    // Asks past 2^53 still compare: one wei per unit below a max of 2^200 is no discount, half of it is half.
    const huge = job(1n, { maxPricePerUnit: 2n ** 200n })
    const at = (ask: bigint) => candidateScore({ reputation: 0.5, pricePerUnit: ask, warmModels: [] }, huge, 0)
    expect(at(2n ** 199n) - at(2n ** 200n)).toBeCloseTo(matchWeights.price / 2, 12)
  })

  test('applies every eligibility rule', () => {
    const j = job(1n, { redundancy: 1, gpuModel: 7n, regions: [regionEu], minVramMib: 16_000n })
    const collateral = slotCollateralOf(provider(6), j, params)
    const ok = provider(1, { gpuModel: 7n })
    const cases: MatchProvider[] = [
      provider(2, { gpuModel: 7n, registered: false }),
      provider(3, { gpuModel: 7n, paused: true }),
      provider(4, { gpuModel: 7n, live: false }),
      provider(5, { gpuModel: 7n, stake: 150n * TSR, pendingUnstake: 60n * TSR }), // stake − pending < minStake
      provider(6, { gpuModel: 7n, stake: 100n * TSR + collateral - 1n, locked: 100n * TSR }), // free stake < collateral
      provider(7, { gpuModel: 7n, pricePerUnit: 101n }),
      provider(8, { gpuModel: 7n, vramMib: 15_999n }),
      provider(9, { gpuModel: 8n }),
      provider(10, { gpuModel: 7n, region: regionUs }),
    ]
    for (const bad of cases) expect(matchJobs({ ...base, jobs: [j], providers: [bad] }).assignments, bad.address).toEqual([])
    expect(matchJobs({ ...base, jobs: [j], providers: [ok, ...cases] }).assignments[0]?.providers).toEqual([addr(1)])
    // exactly enough free stake is enough
    const edge = provider(11, { gpuModel: 7n, stake: 100n * TSR + collateral, locked: 100n * TSR })
    expect(matchJobs({ ...base, jobs: [j], providers: [edge] }).assignments).toHaveLength(1)
  })

  test('compares uint32 requirements past 2^31 exactly', () => {
    const max = 2n ** 32n - 1n
    const j = job(1n, { redundancy: 1, gpuModel: max, minVramMib: max })
    const fits = provider(1, { gpuModel: max, vramMib: max })
    const short = provider(2, { gpuModel: max, vramMib: max - 1n })
    const otherModel = provider(3, { gpuModel: 2n ** 31n, vramMib: max })
    expect(matchJobs({ ...base, jobs: [j], providers: [otherModel, short, fits] }).assignments[0]?.providers).toEqual([addr(1)])
  })

  test('gpuModel 0 and empty regions mean any', () => {
    const providers = [provider(1, { gpuModel: 3n, region: regionUs }), provider(2, { gpuModel: 9n })]
    expect(matchJobs({ ...base, jobs: [job(1n)], providers }).assignments).toHaveLength(1)
  })

  test('skips jobs past their deadline and jobs without k eligible providers', () => {
    const r = matchJobs({
      ...base,
      jobs: [job(1n, { deadline: 1000n }), job(2n, { redundancy: 3 })],
      providers: [provider(1), provider(2)],
    })
    expect(r.assignments).toEqual([])
    expect(r.skipped).toEqual([
      { jobId: 1n, reason: 'DEADLINE_PASSED', eligible: 0 },
      { jobId: 2n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 2 },
    ])
  })

  test('collateral and load picked for one job count against the next (oldest job first)', () => {
    // Each provider can afford exactly one slot: collateral 990 and 1000 TSR (its ask × 10 units) of 1000 TSR free.
    const j = (id: bigint) => job(id, { maxPricePerUnit: 100n * TSR, units: 10n, redundancy: 1 })
    const providers = [
      provider(1, { stake: 1100n * TSR, pricePerUnit: 99n * TSR }),
      provider(2, { stake: 1100n * TSR, pricePerUnit: 100n * TSR }),
    ]
    const r = matchJobs({ ...base, jobs: [j(5n), j(4n), j(6n)], providers })
    expect(r.assignments.map((a) => [a.jobId, a.providers[0]])).toEqual([
      [4n, addr(1)],
      [5n, addr(2)],
    ])
    expect(r.skipped).toEqual([{ jobId: 6n, reason: 'NOT_ENOUGH_PROVIDERS', eligible: 0 }])
  })

  test('reserved collateral of in-flight assigns is respected', () => {
    // free 1100 TSR, collateral 1000 TSR (ask 100 TSR × 10 units): 100 TSR reserved still fits, a wei more does not
    const j = job(1n, { maxPricePerUnit: 100n * TSR, units: 10n, redundancy: 1 })
    const providers = [provider(1, { stake: 1100n * TSR, pricePerUnit: 100n * TSR })]
    expect(matchJobs({ ...base, jobs: [j], providers, reserved: new Map([[addr(1), 100n * TSR]]) }).assignments).toHaveLength(1)
    expect(matchJobs({ ...base, jobs: [j], providers, reserved: new Map([[addr(1), 100n * TSR + 1n]]) }).assignments).toEqual([])
  })
})
