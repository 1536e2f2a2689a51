import { type Address, encodeAbiParameters, type Hex, hexToBigInt, keccak256 } from 'viem'
import { makeInput } from '../agent/models/buildMlp.ts'
import { type CatalogueModel, modelCatalogue } from '../agent/models/modelCatalogue.ts'
import { defaultOutputTolerance, sha256Hex } from './fingerprint.ts'
import { encodeTensorBlob } from './tensorBlob.ts'

/**
 * The catalogue models a challenge may draw: the small ones every provider can run in well under a commit window.
 * Larger models would measure more but also make a challenge stand out by its cost.
 */
export const challengeModelNames = ['small', 'demo'] as const

/** Rows of a challenge input: 1 to this many, drawn from the same hash. */
const maxChallengeRows = 8

export type ChallengeJobParameters = {
  /** The round's seed, committed as `keccak256(abi.encode(seed))` before the round and revealed after it. */
  seed: Hex
  round: bigint
  provider: Address
}

export type ChallengeJobReturnType = {
  /** The catalogue model's name, for logs and reports (not on chain). */
  modelName: string
  modelBytes: Uint8Array
  /** `0x`-prefixed sha256 of `modelBytes`, as a job names its model. */
  modelHash: Hex
  /** The input as a tensor blob (protocol/tensorBlob.ts). */
  inputBlob: Uint8Array
  inputHash: Hex
  input: Float32Array
  dims: number[]
  /** One unit per input row, as a paid job of the same input would be priced. */
  units: bigint
  outputTolerance: number
}

/**
 * The draw behind a provider's challenge: `keccak256(abi.encode(seed, round, provider))`. Binding the round and the
 * provider means a seed reused by mistake still gives every provider and round its own job.
 */
function challengeDrawOf(parameters: ChallengeJobParameters): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint64' }, { type: 'address' }],
      [parameters.seed, parameters.round, parameters.provider],
    ),
  )
}

/**
 * Seconds after its round's commit a provider's challenge job is submitted: `keccak256(abi.encode(seed, round,
 * provider, "delay")) mod (spread + 1)`. Secret until the reveal, so no job of a round arrives in step with its public
 * commit, and checkable after it.
 */
export function challengeDelayOf(parameters: ChallengeJobParameters & { spreadSeconds: bigint }): bigint {
  if (parameters.spreadSeconds <= 0n) return 0n
  const draw = keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint64' }, { type: 'address' }, { type: 'string' }],
      [parameters.seed, parameters.round, parameters.provider, 'delay'],
    ),
  )
  return BigInt(draw) % (parameters.spreadSeconds + 1n)
}

/** What a round commits to before it starts: `keccak256(abi.encode(seed))`, as ChallengeLedger checks it at the reveal. */
export function seedHashOf(seed: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: 'bytes32' }], [seed]))
}

/**
 * What the issuer's key signs for a round's seed, `keccak256` of the signature being the seed: ECDSA signatures are
 * deterministic (RFC 6979), so the key alone derives the seed again after a restart, and naming the chain, the ledger
 * and the round keeps every round's seed its own.
 */
export function challengeSeedMessage(parameters: { chainId: number; ledger: Address; round: bigint }): string {
  return `tessera-challenge-seed:${parameters.chainId}:${parameters.ledger.toLowerCase()}:${parameters.round}`
}

/** A round's seed: `keccak256` of the issuer's signature of {@link challengeSeedMessage}, `sign` signing as the issuer. */
export async function challengeSeedOf(parameters: {
  chainId: number
  ledger: Address
  round: bigint
  sign: (message: string) => Promise<Hex>
}): Promise<Hex> {
  return keccak256(await parameters.sign(challengeSeedMessage(parameters)))
}

let models: CatalogueModel[] | undefined
const challengeModels = () => {
  models ??= modelCatalogue().filter((m) => (challengeModelNames as readonly string[]).includes(m.name))
  return models
}

/**
 * The challenge job `provider` gets in `round` of `seed`: a catalogue model (built in code, byte-identical on every
 * machine) and an input of 1 to {@link maxChallengeRows} seeded rows, both picked by {@link challengeDrawOf}. Anyone
 * can re-run it once the seed is revealed and check the job the issuer submitted ({@link verifyChallengeJob}).
 */
export function challengeJobOf(parameters: ChallengeJobParameters): ChallengeJobReturnType {
  const draw = hexToBigInt(challengeDrawOf(parameters))
  const catalogue = challengeModels()
  const model = catalogue[Number(draw % BigInt(catalogue.length))]
  const rows = 1 + Number((draw >> 64n) % BigInt(maxChallengeRows))
  // makeInput takes a 32-bit seed; bits 128..159 of the draw are independent of the model and row picks.
  const inputSeed = Number((draw >> 128n) & 0xffff_ffffn)
  const input = makeInput({ seed: inputSeed, rows, inputSize: model.inputSize })
  const dims = [rows, model.inputSize]
  const inputBlob = encodeTensorBlob({ dims, data: input })
  return {
    modelName: model.name,
    modelBytes: model.bytes,
    modelHash: sha256Hex(model.bytes),
    inputBlob,
    inputHash: sha256Hex(inputBlob),
    input,
    dims,
    units: BigInt(rows),
    outputTolerance: defaultOutputTolerance,
  }
}

export type VerifyChallengeJobParameters = ChallengeJobParameters & {
  /** The revealed round's committed hash (ChallengeLedger `getRound(round).seedHash`). */
  seedHash: Hex
  /** What the job on chain names. */
  job: { modelHash: Hex | string; inputHash: Hex | string; units?: bigint; outputTolerance?: number | bigint }
}

export type VerifyChallengeJobReturnType =
  | { valid: true }
  | { valid: false; reason: 'SEED_MISMATCH' | 'MODEL' | 'INPUT' | 'UNITS' | 'TOLERANCE' }

/**
 * Whether a recorded challenge job is the one the revealed seed derives for its provider: the seed matches the
 * round's commitment, and the job's model, input (and, when given, units and tolerance) are {@link challengeJobOf}'s.
 * What lets anyone check after the reveal that the issuer didn't pick a job to fail a provider on purpose.
 */
export function verifyChallengeJob(parameters: VerifyChallengeJobParameters): VerifyChallengeJobReturnType {
  if (seedHashOf(parameters.seed).toLowerCase() !== parameters.seedHash.toLowerCase()) return { valid: false, reason: 'SEED_MISMATCH' }
  const expected = challengeJobOf(parameters)
  const { job } = parameters
  if (job.modelHash.toLowerCase() !== expected.modelHash) return { valid: false, reason: 'MODEL' }
  if (job.inputHash.toLowerCase() !== expected.inputHash) return { valid: false, reason: 'INPUT' }
  if (job.units !== undefined && job.units !== expected.units) return { valid: false, reason: 'UNITS' }
  if (job.outputTolerance !== undefined && BigInt(job.outputTolerance) !== BigInt(expected.outputTolerance))
    return { valid: false, reason: 'TOLERANCE' }
  return { valid: true }
}
