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
  type RecordedJob,
  sqrtFloor,
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
const jobArb: fc.Arbitrary<RecordedJob> = fc.record({
  provider: fc.constantFrom(...providers),
  fee: fc.oneof(bigint(TSR), bigint(10n ** 7n * TSR)),
  units: bigint(10n ** 7n),
  capacity: bigint(10n ** 7n),
})
const inputsArb: fc.Arbitrary<EpochInputs> = fc.record({
  jobs: fc.array(jobArb, { maxLength: 8 }),
  totalCapacity: bigint(10n ** 8n),
  supply: fc.oneof(fc.constant(100_000_000n * TSR), bigint(10n ** 9n * TSR)),
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
      inputs: { jobs: [], totalCapacity: 0n, supply: 100_000_000n * TSR },
      params,
    })
    expect(outputs.limiter).toBe(0)
    expect(budgetOf(outputs)).toBe(params.baseAvailability0)
    expect(outputs.cap).toBeGreaterThan(2n * params.baseAvailability0)
  })

  test('sqrtFloor is the integer square root', () => {
    fc.assert(
      fc.property(bigint(2n ** 256n), (x) => {
        const r = sqrtFloor(x)
        expect(r * r <= x && (r + 1n) * (r + 1n) > x).toBe(true)
      }),
    )
  })
})

describe('emission law', () => {
  test('wash-safety: a fake job of value W earns its author at most κ·W < τ·W in the epoch', () => {
    fc.assert(
      fc.property(
        stateArb,
        inputsArb,
        fc.constantFrom(...providers),
        fc.bigInt({ min: 1n, max: 10n ** 8n * TSR }),
        fc.bigInt({ min: 1n, max: 10n ** 7n }),
        (state, inputs, attacker, w, capacity) => {
          // The attacker is already a recipient (one honest job), so the fake job only adds fees.
          const honest = { ...inputs, jobs: [{ provider: attacker, fee: 0n, units: 0n, capacity }, ...inputs.jobs] }
          const washed = { ...honest, jobs: [...honest.jobs, { provider: attacker, fee: w, units: 1n, capacity }] }
          const reward = (i: EpochInputs) => {
            const { usage, availability } = claimable({
              record: stepEpoch({ state, inputs: i, params }).record,
              provider: attacker,
              params,
            })
            return usage + availability
          }
          const gain = reward(washed) - reward(honest)
          expect(gain).toBeLessThanOrEqual((params.kappa * w) / WAD + 1n)
          expect((params.kappa * w) / WAD).toBeLessThan((TAU * w) / WAD + 1n)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('usage never pays more than κ × own fees; availability payouts add up to the emission less < 1 wei each', () => {
    fc.assert(
      fc.property(stateArb, inputsArb, (state, inputs) => {
        const { outputs, payouts, record } = stepEpoch({ state, inputs, params })
        let usage = 0n
        let availability = 0n
        for (const p of payouts) {
          const fees = inputs.jobs.filter((j) => j.provider === p.provider).reduce((s, j) => s + j.fee, 0n)
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

  test('usage alone above the cap is scaled down to the cap', () => {
    const state = { ...initialState(params), feeEma: 10n ** 9n * TSR, lastEmission: 30_000n * TSR }
    const job = { provider: provider0, fee: 10n ** 9n * TSR, units: 1n, capacity: 1n }
    const jobs = [job]
    const { outputs, record } = stepEpoch({ state, inputs: { jobs, totalCapacity: 1n, supply: 100_000_000n * TSR }, params })
    expect(outputs.limiter).toBe(3)
    expect(outputs.usageEmission).toBeLessThanOrEqual(outputs.cap)
    // The WAD rate loses at most fees/WAD wei; that dust goes to the availability pool.
    expect(outputs.cap - outputs.usageEmission).toBeLessThanOrEqual(job.fee / WAD)
    expect(budgetOf(outputs)).toBe(outputs.cap)
    expect(record.usageRate).toBeLessThan(params.kappa)
  })

  test('one provider alone earns at most maxProviderShare of the availability pool; the rest is forfeited', () => {
    const jobs = [{ provider: provider0, fee: 0n, units: 1n, capacity: 100n }]
    const { outputs, payouts } = stepEpoch({
      state: initialState(params),
      inputs: { jobs, totalCapacity: 100n, supply: 100_000_000n * TSR },
      params,
    })
    const payout = defined(payouts[0], 'a payout')
    expect(payout.availability).toBe((params.baseAvailability0 * params.maxProviderShare) / WAD)
    expect(outputs.forfeited).toBe(params.baseAvailability0 - payout.availability)
  })

  test('φ falls only in the demand regime with utilisation below the band', () => {
    const busy = { ...initialState(params), feeEma: 10_000_000n * TSR }
    const quiet = { jobs: [], totalCapacity: 1_000n, supply: 100_000_000n * TSR }
    expect(stepEpoch({ state: busy, inputs: quiet, params }).outputs.phi).toBe((WAD * (WAD - params.phiStep)) / WAD)
    // Bootstrap regime (κ·F̄ < B·φ): φ holds however low utilisation is.
    expect(stepEpoch({ state: initialState(params), inputs: quiet, params }).outputs.phi).toBe(WAD)
    // Demand regime but utilisation at the target: φ holds.
    const full = { ...busy, utilisationEma: params.targetUtilisation }
    expect(
      stepEpoch({
        state: full,
        inputs: { ...quiet, jobs: [{ provider: provider0, fee: 10_000_000n * TSR, units: 1_000n, capacity: 1_000n }] },
        params,
      }).outputs.phi,
    ).toBe(WAD)
  })

  test('catch-up: closing n epochs at once equals n single steps', () => {
    fc.assert(
      fc.property(stateArb, fc.array(inputsArb, { minLength: 1, maxLength: 70 }), (start, sequence) => {
        // Epochs closed in one advanceEpoch call share the capacity and supply read at the call.
        const { totalCapacity, supply } = defined(sequence[0], 'the first epoch')
        const inputs = sequence.map((i) => ({ ...i, totalCapacity, supply }))
        const batched = advanceEpochs({ state: start, inputs, params })
        let state = start
        for (const [i, epochInputs] of inputs.entries()) {
          const single = stepEpoch({ state, inputs: epochInputs, params })
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
    const empty: EpochInputs = { jobs: [], totalCapacity: 0n, supply: 100_000_000n * TSR }
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
