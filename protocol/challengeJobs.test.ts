import { type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import { modelCatalogue } from '../agent/models/modelCatalogue.ts'
import { challengeDelayOf, challengeJobOf, challengeModelNames, seedHashOf, verifyChallengeJob } from './challengeJobs.ts'
import { sha256Hex } from './fingerprint.ts'
import { decodeTensorBlob } from './tensorBlob.ts'

const seed = keccak256(toHex('challenge seed')) as Hex
const providers = Array.from({ length: 12 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}` as const)

describe('challengeJobOf', () => {
  it('is deterministic: the same seed, round and provider give the same bytes', () => {
    const a = challengeJobOf({ seed, round: 1n, provider: providers[0] })
    const b = challengeJobOf({ seed, round: 1n, provider: providers[0] })
    expect(b.modelHash).toBe(a.modelHash)
    expect(b.inputHash).toBe(a.inputHash)
    expect(Buffer.from(b.inputBlob).equals(Buffer.from(a.inputBlob))).toBe(true)
  })

  it('names a catalogue model and a tensor blob input whose hashes are the job’s', () => {
    for (const provider of providers) {
      const job = challengeJobOf({ seed, round: 1n, provider })
      expect(challengeModelNames).toContain(job.modelName)
      const model = modelCatalogue().find((m) => m.name === job.modelName)
      expect(job.modelHash).toBe(sha256Hex(model?.bytes ?? new Uint8Array()))
      expect(job.inputHash).toBe(sha256Hex(job.inputBlob))
      const tensor = decodeTensorBlob(job.inputBlob)
      expect(tensor.dims).toEqual(job.dims)
      expect(tensor.dims[1]).toBe(model?.inputSize)
      expect(job.units).toBe(BigInt(tensor.dims[0]))
      expect(job.units >= 1n && job.units <= 8n).toBe(true)
    }
  })

  it('gives different providers, rounds and seeds different inputs', () => {
    const inputs = new Set(providers.map((provider) => challengeJobOf({ seed, round: 1n, provider }).inputHash))
    expect(inputs.size).toBe(providers.length)
    expect(challengeJobOf({ seed, round: 2n, provider: providers[0] }).inputHash).not.toBe(
      challengeJobOf({ seed, round: 1n, provider: providers[0] }).inputHash,
    )
    const other = keccak256(toHex('another seed'))
    expect(challengeJobOf({ seed: other, round: 1n, provider: providers[0] }).inputHash).not.toBe(
      challengeJobOf({ seed, round: 1n, provider: providers[0] }).inputHash,
    )
  })

  it('draws more than one model across providers', () => {
    const names = new Set(providers.map((provider) => challengeJobOf({ seed, round: 1n, provider }).modelName))
    expect(names.size).toBeGreaterThan(1)
  })
})

describe('verifyChallengeJob', () => {
  const provider = providers[3]
  const job = challengeJobOf({ seed, round: 5n, provider })
  const onChain = {
    modelHash: job.modelHash.toUpperCase().replace('0X', '0x'),
    inputHash: job.inputHash,
    units: job.units,
    outputTolerance: 16n,
  }

  it('accepts the job the revealed seed derives', () => {
    expect(verifyChallengeJob({ seed, seedHash: seedHashOf(seed), round: 5n, provider, job: onChain })).toEqual({ valid: true })
  })

  it('refuses a seed that is not the committed one', () => {
    const other = keccak256(toHex('other'))
    expect(verifyChallengeJob({ seed: other, seedHash: seedHashOf(seed), round: 5n, provider, job: onChain })).toEqual({
      valid: false,
      reason: 'SEED_MISMATCH',
    })
  })

  it('refuses a tampered model, input or size, and another provider’s job', () => {
    const base = { seed, seedHash: seedHashOf(seed), round: 5n, provider }
    const otherModel = modelCatalogue().find((m) => sha256Hex(m.bytes) !== job.modelHash)
    expect(verifyChallengeJob({ ...base, job: { ...onChain, modelHash: sha256Hex(otherModel?.bytes ?? new Uint8Array()) } })).toEqual({
      valid: false,
      reason: 'MODEL',
    })
    const tampered = new Uint8Array(job.inputBlob)
    tampered[tampered.length - 3] ^= 1
    expect(verifyChallengeJob({ ...base, job: { ...onChain, inputHash: sha256Hex(tampered) } })).toEqual({ valid: false, reason: 'INPUT' })
    expect(verifyChallengeJob({ ...base, job: { ...onChain, units: job.units + 1n } })).toEqual({ valid: false, reason: 'UNITS' })
    expect(verifyChallengeJob({ ...base, job: { ...onChain, outputTolerance: 12 } })).toEqual({ valid: false, reason: 'TOLERANCE' })
    const someoneElse = providers.find((p) => challengeJobOf({ seed, round: 5n, provider: p }).inputHash !== job.inputHash) ?? providers[0]
    expect(verifyChallengeJob({ ...base, provider: someoneElse, job: onChain }).valid).toBe(false)
  })
})

describe('challengeDelayOf', () => {
  it('spreads a round over its window, each provider at its own delay, the same every time and 0 with no spread', () => {
    const spreadSeconds = 600n
    const delays = providers.map((provider) => challengeDelayOf({ seed, round: 1n, provider, spreadSeconds }))
    for (const d of delays) expect(d >= 0n && d <= spreadSeconds).toBe(true)
    expect(new Set(delays).size).toBe(providers.length)
    expect(challengeDelayOf({ seed, round: 1n, provider: providers[0], spreadSeconds })).toBe(delays[0])
    expect(challengeDelayOf({ seed, round: 2n, provider: providers[0], spreadSeconds })).not.toBe(delays[0])
    expect(challengeDelayOf({ seed, round: 1n, provider: providers[0], spreadSeconds: 0n })).toBe(0n)
    // Over many providers the delays fill the window rather than bunch at its start.
    const many = Array.from({ length: 400 }, (_, i) =>
      challengeDelayOf({ seed, round: 1n, provider: `0x${(i + 1).toString(16).padStart(40, '0')}`, spreadSeconds }),
    )
    expect(many.filter((d) => d > spreadSeconds / 2n).length).toBeGreaterThan(150)
  })
})
