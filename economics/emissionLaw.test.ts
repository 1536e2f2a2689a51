import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { TSR, WAD } from '../protocol/units.ts'
import { defined } from '../test/support/defined.ts'
import { computeConstants } from './constants.ts'
import {
  advanceEpochs,
  claimable,
  type EmissionState,
  type EpochInputs,
  initialState,
  type RecordedEvent,
  stepEpoch,
} from './emissionLaw.ts'
import { ALPHA_F_WAD, ALPHA_U_WAD, BASE_DECAY_WAD, EPOCHS_PER_YEAR, emissionParams, R_MAX_DECAY_WAD } from './params.ts'

const params = emissionParams({ epochLength: 86_400n })
/** JobMarket's default take τ (takeBps 1000), in WAD. */
const TAU = WAD / 10n
const providers = ['0x01', '0x02', '0x03', '0x04', '0x05'].map((p) => p.padEnd(42, '0'))
const [provider0] = providers
const minBig = (a: bigint, b: bigint) => (a < b ? a : b)

const bigint = (max: bigint) => fc.bigInt({ min: 0n, max })
const stateArb: fc.Arbitrary<EmissionState> = fc.record({
  nextEpoch: bigint(2_000n),
  feeEma: bigint(10n ** 8n * TSR),
  utilisationEma: bigint(WAD),
  phi: fc.bigInt({ min: params.phiMin, max: params.phi0 }),
  baseAvailability: bigint(params.baseAvailability0),
  rMax: bigint(params.rMax0),
  lastEmission: bigint(50_000n * TSR),
})
const jobArb: fc.Arbitrary<RecordedEvent> = fc.record({
  kind: fc.constant('job' as const),
  provider: fc.constantFrom(...providers),
  fee: fc.oneof(bigint(TSR), bigint(10n ** 7n * TSR)),
  units: bigint(10n ** 7n),
})
const challengeArb: fc.Arbitrary<RecordedEvent> = fc.record({
  kind: fc.constant('challenge' as const),
  provider: fc.constantFrom(...providers),
  passed: fc.boolean(),
  unitsPerHour: bigint(10n ** 6n),
  stakeAtRisk: fc.oneof(bigint(10n ** 4n * TSR), bigint(10n ** 9n * TSR)),
})
const inputsArb: fc.Arbitrary<EpochInputs> = fc.record({
  events: fc.array(fc.oneof(jobArb, challengeArb), { maxLength: 10 }),
  supply: fc.oneof(fc.constant(100_000_000n * TSR), bigint(10n ** 9n * TSR)),
})
const job = (provider: string, fee: bigint, units = 1n): RecordedEvent => ({ kind: 'job', provider, fee, units })
const pass = (provider: string, unitsPerHour: bigint, stakeAtRisk = 10n ** 9n * TSR): RecordedEvent => ({
  kind: 'challenge',
  provider,
  passed: true,
  unitsPerHour,
  stakeAtRisk,
})

const budgetOf = (o: ReturnType<typeof stepEpoch>['outputs']) => o.usageEmission + o.availabilityEmission + o.forfeited

describe('constants', () => {
  test('the WAD literals equal their definitions, floored', () => {
    expect(computeConstants()).toEqual({ alphaF: ALPHA_F_WAD, alphaU: ALPHA_U_WAD, baseDecay: BASE_DECAY_WAD, rMaxDecay: R_MAX_DECAY_WAD })
  })

  test('the contract uses the same literals', () => {
    const source = readFileSync(new URL('../contracts/src/EmissionController.sol', import.meta.url), 'utf8')
    for (const [name, value] of Object.entries({ ALPHA_F_WAD, ALPHA_U_WAD, BASE_DECAY_WAD, R_MAX_DECAY_WAD, EPOCHS_PER_YEAR })) {
      expect(source).toMatch(new RegExp(`constant ${name} = ${value};`))
    }
  })

  test('defaults: κ < τ, and emissions start under the cap of a 100M TSR supply', () => {
    expect(params.kappa).toBeLessThan(TAU)
    const { outputs } = stepEpoch({
      state: initialState(params),
      inputs: { events: [], supply: 100_000_000n * TSR },
      params,
    })
    expect(outputs.limiter).toBe(0)
    expect(budgetOf(outputs)).toBe(params.baseAvailability0)
    expect(outputs.cap).toBeGreaterThan(2n * params.baseAvailability0)
  })
})

describe('emission law', () => {
  test('wash-safety: for any share, Sybil count and wash volume, fake fees W earn back at most κ·W < τ·W', () => {
    fc.assert(
      fc.property(
        stateArb,
        inputsArb,
        fc.subarray(providers, { minLength: 1 }),
        fc.bigInt({ min: 1n, max: 10n ** 8n * TSR }),
        fc.bigInt({ min: 0n, max: 10n ** 6n }),
        (state, inputs, sybils, w, unitsPerHour) => {
          // The attacker's identities passed challenges (with any capacity), so the wash only adds fees; the wash is
          // spread over every identity it controls.
          const honest = { ...inputs, events: [...sybils.map((p) => pass(p, unitsPerHour)), ...inputs.events] }
          const share = w / BigInt(sybils.length)
          const wash = sybils.map((p, i) => job(p, i === 0 ? w - share * BigInt(sybils.length - 1) : share, 10n ** 7n))
          const washed = { ...honest, events: [...honest.events, ...wash] }
          const reward = (i: EpochInputs) => {
            const { record } = stepEpoch({ state, inputs: i, params })
            return sybils.reduce((sum, provider) => {
              const { usage, availability } = claimable({ record, provider, params })
              return sum + usage + availability
            }, 0n)
          }
          const gain = reward(washed) - reward(honest)
          // Rounding: ≤ 1 wei per identity, and the cut usage rate's dust (< fees / WAD) that goes to availability.
          const fees = washed.events.reduce((sum, e) => (e.kind === 'job' ? sum + e.fee : sum), 0n)
          expect(gain).toBeLessThanOrEqual((params.kappa * w) / WAD + BigInt(sybils.length) + fees / WAD + 1n)
          expect((params.kappa * w) / WAD).toBeLessThan((TAU * w) / WAD + 1n)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('a provider that passed no challenge in the epoch earns no availability, whatever its jobs and capacity', () => {
    fc.assert(
      fc.property(stateArb, inputsArb, fc.constantFrom(...providers), (state, inputs, outsider) => {
        const events = inputs.events.filter((e) => !(e.kind === 'challenge' && e.provider === outsider && e.passed))
        const withJobs = [...events, job(outsider, 10n ** 6n * TSR, 10n ** 9n)]
        const { record } = stepEpoch({ state, inputs: { ...inputs, events: withJobs }, params })
        expect(claimable({ record, provider: outsider, params }).availability).toBe(0n)
      }),
      { numRuns: 300 },
    )
  })

  test("utilisation counts paid units only up to each provider's attested capacity", () => {
    const p = emissionParams({ epochLength: 3600n })
    const [a, b] = providers as [string, string]
    const events = [pass(a, 100n), pass(b, 300n), job(a, TSR, 1_000_000n), job(b, TSR, 150n), job(b, TSR, 100n)]
    const { outputs } = stepEpoch({ state: initialState(p), inputs: { events, supply: 100_000_000n * TSR }, params: p })
    expect(outputs).toMatchObject({ units: 1_000_250n, compute: 100n + 250n, attested: 400n })
    expect(outputs.utilisation).toBe((350n * WAD) / 400n)
    // A failed challenge zeroes the provider's attested capacity: its later units count for nothing.
    const failed: RecordedEvent = { kind: 'challenge', provider: a, passed: false, unitsPerHour: 0n, stakeAtRisk: 0n }
    const after = stepEpoch({ state: initialState(p), inputs: { events: [failed, job(a, TSR, 50n)], supply: 10n ** 26n }, params: p })
    expect(after.outputs).toMatchObject({ compute: 0n, attested: 0n, utilisation: 0n })
  })

  test('availability weight is the attested capacity, held to the stake at risk', () => {
    const p = emissionParams({ epochLength: 3600n, stakePerUnit: TSR })
    const [a, b] = providers as [string, string]
    // a: 1,000 units but stake for 100; b: 100 units, stake for 1,000. Equal weights, equal availability.
    const events = [pass(a, 1_000n, 100n * TSR), pass(b, 100n, 1_000n * TSR)]
    const { record, outputs } = stepEpoch({ state: initialState(p), inputs: { events, supply: 100_000_000n * TSR }, params: p })
    expect([...record.providers.values()].map((x) => x.weight)).toEqual([100n, 100n])
    expect(outputs.attested).toBe(1_100n)
    expect(claimable({ record, provider: a, params: p })).toEqual(claimable({ record, provider: b, params: p }))
  })

  test('usage never pays more than κ × own fees; availability payouts add up to the emission less < 1 wei each', () => {
    fc.assert(
      fc.property(stateArb, inputsArb, (state, inputs) => {
        const { outputs, payouts, record } = stepEpoch({ state, inputs, params })
        let usage = 0n
        let availability = 0n
        for (const p of payouts) {
          const fees = inputs.events.reduce((s, e) => (e.kind === 'job' && e.provider === p.provider ? s + e.fee : s), 0n)
          expect(p.usage).toBeLessThanOrEqual((fees * params.kappa) / WAD)
          usage += p.usage
          availability += p.availability
        }
        expect(usage).toBeLessThanOrEqual(outputs.usageEmission)
        expect(outputs.usageEmission).toBeLessThanOrEqual((params.kappa * minBig(outputs.fees, outputs.feeEma)) / WAD)
        // The contract reports what recipients can claim from totals, not by summing claims (no loop at close):
        // each claim floors its own share, so up to 1 wei per recipient is reported and never minted.
        expect(availability).toBeLessThanOrEqual(outputs.availabilityEmission)
        expect(outputs.availabilityEmission - availability).toBeLessThan(BigInt(Math.max(1, payouts.length)))
        // Forfeits are the pool without recipients, else only the capped recipients' excess.
        const capShare = (record.availabilityPool * params.maxProviderShare) / WAD
        const atCap = payouts.some((p) => p.availability === capShare)
        if (record.totalWeight === 0n) expect(outputs.forfeited).toBe(record.availabilityPool)
        else if (capShare > 0n && !atCap) expect(outputs.forfeited).toBe(0n)
        if (payouts.length === 0) expect(outputs.availabilityEmission).toBe(0n)
      }),
      { numRuns: 500 },
    )
  })

  test('the budget moves at most +2% / −1.5% an epoch and never exceeds the cap; φ never rises', () => {
    fc.assert(
      fc.property(stateArb, fc.array(inputsArb, { minLength: 1, maxLength: 40 }), (start, sequence) => {
        let state = start
        for (const inputs of sequence) {
          const step = stepEpoch({ state, inputs, params })
          const o = step.outputs
          const budget = budgetOf(o)
          const up = (state.lastEmission * (WAD + params.maxStepUp)) / WAD
          const down = (state.lastEmission * (WAD - params.maxStepDown)) / WAD
          expect(budget).toBeLessThanOrEqual(o.cap)
          expect(budget).toBeLessThanOrEqual(up)
          expect(budget).toBeGreaterThanOrEqual(minBig(down, o.cap))
          expect(o.phi).toBeLessThanOrEqual(state.phi)
          expect(o.phi).toBeGreaterThanOrEqual(params.phiMin)
          expect(step.state.lastEmission).toBe(budget)
          state = step.state
        }
      }),
      { numRuns: 200 },
    )
  })

  test('above the cap the usage rate is cut first: the availability pool keeps B·φ', () => {
    const state = { ...initialState(params), feeEma: 10n ** 9n * TSR, lastEmission: 30_000n * TSR }
    const fee = 10n ** 9n * TSR
    const supply = 100_000_000n * TSR
    const { outputs, record } = stepEpoch({ state, inputs: { events: [pass(provider0, 1n), job(provider0, fee)], supply }, params })
    expect(outputs.limiter).toBe(3)
    // B·φ, and the usage rate's rounding dust (< fees / WAD wei).
    const pool = (params.baseAvailability0 * outputs.phi) / WAD
    expect(record.availabilityPool - pool).toBeLessThanOrEqual(fee / WAD)
    expect(outputs.usageEmission + record.availabilityPool).toBe(outputs.cap)
    expect(record.usageRate).toBeLessThan(params.kappa)
  })

  test('washing while a bound binds does not displace honest availability', () => {
    const state = { ...initialState(params), feeEma: 10n ** 6n * TSR, lastEmission: params.baseAvailability0 }
    const [honest, attacker] = providers as [string, string]
    const supply = 100_000_000n * TSR
    const base = [pass(honest, 1_000n), pass(attacker, 1_000n), job(honest, 10n ** 5n * TSR)]
    const availabilityOf = (events: RecordedEvent[]) =>
      claimable({ record: stepEpoch({ state, inputs: { events, supply }, params }).record, provider: honest, params }).availability
    const washFee = 10n ** 8n * TSR
    const washed = [...base, job(attacker, washFee)]
    expect(stepEpoch({ state, inputs: { events: washed, supply }, params }).outputs.limiter).not.toBe(0)
    // Only the usage rate's rounding dust (< fees / WAD wei) may move, and only upwards.
    const gained = availabilityOf(washed) - availabilityOf(base)
    expect(gained >= 0n && gained <= washFee / WAD).toBe(true)
  })

  test('one provider alone earns at most maxProviderShare of the availability pool; the rest is forfeited', () => {
    const { outputs, payouts } = stepEpoch({
      state: initialState(params),
      inputs: { events: [pass(provider0, 100n)], supply: 100_000_000n * TSR },
      params,
    })
    const payout = defined(payouts[0], 'a payout')
    expect(payout.availability).toBe((params.baseAvailability0 * params.maxProviderShare) / WAD)
    expect(outputs.forfeited).toBe(params.baseAvailability0 - payout.availability)
  })

  test('φ falls only in the demand regime with utilisation below the band', () => {
    // A floor below 1 (the default φ_min = 1 keeps φ where governance sets it).
    const params = emissionParams({ epochLength: 86_400n, phiMin: WAD / 2n })
    const busy = { ...initialState(params), feeEma: 10_000_000n * TSR }
    const quiet = { events: [pass(provider0, 1_000n)], supply: 100_000_000n * TSR }
    expect(stepEpoch({ state: busy, inputs: quiet, params }).outputs.phi).toBe((WAD * (WAD - params.phiStep)) / WAD)
    // Bootstrap regime (κ·F̄ < B·φ): φ holds however low utilisation is.
    expect(stepEpoch({ state: initialState(params), inputs: quiet, params }).outputs.phi).toBe(WAD)
    // Demand regime but utilisation at the target: φ holds.
    const full = { ...busy, utilisationEma: params.targetUtilisation }
    expect(
      stepEpoch({
        state: full,
        inputs: { ...quiet, events: [...quiet.events, job(provider0, 10_000_000n * TSR, 10n ** 9n)] },
        params,
      }).outputs.phi,
    ).toBe(WAD)
  })

  test('catch-up: closing n epochs at once equals n single steps', () => {
    fc.assert(
      fc.property(stateArb, fc.array(inputsArb, { minLength: 1, maxLength: 70 }), (start, sequence) => {
        // Epochs closed in one advanceEpoch call share the supply read at the call.
        const { supply } = defined(sequence[0], 'the first epoch')
        const inputs = sequence.map((i) => ({ ...i, supply }))
        const batched = advanceEpochs({ state: start, inputs, params })
        let state = start
        let attested = new Map<string, bigint>() as ReadonlyMap<string, bigint>
        for (const [i, epochInputs] of inputs.entries()) {
          const single = stepEpoch({ state, inputs: epochInputs, params, attested })
          attested = single.attested
          const batchedStep = defined(batched.epochs[i], `batched epoch ${i}`)
          expect(single.outputs).toEqual(batchedStep.outputs)
          expect(single.payouts).toEqual(batchedStep.payouts)
          state = single.state
        }
        expect(state).toEqual(batched.state)
      }),
      { numRuns: 100 },
    )
  })

  test('a keeper outage of 10 empty epochs decays B and r_max exactly as 10 steps', () => {
    const empty: EpochInputs = { events: [], supply: 100_000_000n * TSR }
    const { state } = advanceEpochs({ state: initialState(params), inputs: Array(10).fill(empty), params })
    let base = params.baseAvailability0
    let rMax = params.rMax0
    for (let i = 0; i < 10; i++) {
      base = (base * BASE_DECAY_WAD) / WAD
      rMax = (rMax * R_MAX_DECAY_WAD) / WAD
    }
    expect(state).toMatchObject({ nextEpoch: 10n, baseAvailability: base, rMax })
  })
})
