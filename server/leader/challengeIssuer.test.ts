import { describe, expect, it } from 'vitest'
import { makeInput } from '../../agent/models/buildMlp.ts'
import { buildOutputTree } from '../../protocol/outputTree.ts'
import { encodeTensorBlob } from '../../protocol/tensorBlob.ts'
import { challengePassed, unitsPerHourOf } from './challengeIssuer.ts'

const tolerance = 16
const answerValues = makeInput({ seed: 3, rows: 4, inputSize: 4 })
const answer = buildOutputTree(answerValues, tolerance)
const blobOf = (values: Float32Array) => encodeTensorBlob({ dims: [4, 4], data: values })

describe('challengePassed', () => {
  it('passes the known answer’s fingerprint without reading the output', () => {
    expect(challengePassed({ answer, fingerprint: answer.fingerprint, output: undefined, toleranceBits: tolerance })).toBe(true)
  })

  it('passes another machine’s rounding: a different fingerprint whose output agrees under the tolerance', () => {
    const theirs = new Float32Array(answerValues)
    // One step of the kept mantissa off in one element (2^(23 − 16) ulps): another kernel's summation order.
    new Uint32Array(theirs.buffer)[5] += 128
    const tree = buildOutputTree(theirs, tolerance)
    expect(tree.fingerprint).not.toBe(answer.fingerprint)
    expect(challengePassed({ answer, fingerprint: tree.fingerprint, output: blobOf(theirs), toleranceBits: tolerance })).toBe(true)
  })

  it('fails a wrong output, a missing or undecodable one, and a blob that is not what was committed', () => {
    const wrong = new Float32Array(answerValues).map((v) => v + 0.5)
    const wrongTree = buildOutputTree(wrong, tolerance)
    expect(challengePassed({ answer, fingerprint: wrongTree.fingerprint, output: blobOf(wrong), toleranceBits: tolerance })).toBe(false)
    expect(challengePassed({ answer, fingerprint: wrongTree.fingerprint, output: undefined, toleranceBits: tolerance })).toBe(false)
    expect(
      challengePassed({ answer, fingerprint: wrongTree.fingerprint, output: new TextEncoder().encode('nope'), toleranceBits: tolerance }),
    ).toBe(false)
    // A liar committing to a wrong result but serving the right blob still fails: the blob must match its commitment.
    expect(challengePassed({ answer, fingerprint: wrongTree.fingerprint, output: blobOf(answerValues), toleranceBits: tolerance })).toBe(
      false,
    )
    // A different length never agrees.
    const short = answerValues.slice(0, 12)
    const shortTree = buildOutputTree(short, tolerance)
    expect(
      challengePassed({
        answer,
        fingerprint: shortTree.fingerprint,
        output: encodeTensorBlob({ dims: [3, 4], data: short }),
        toleranceBits: tolerance,
      }),
    ).toBe(false)
  })
})

describe('unitsPerHourOf', () => {
  it('is units × 3600 over the seconds from assignment to reveal', () => {
    expect(unitsPerHourOf({ units: 4n, assignedAt: 100n, revealedAt: 102n })).toBe(7200n)
    expect(unitsPerHourOf({ units: 3n, assignedAt: 100n, revealedAt: 107n })).toBe(1542n)
  })

  it('counts at least one second (a reveal in the assignment’s block) and caps at uint64', () => {
    expect(unitsPerHourOf({ units: 8n, assignedAt: 100n, revealedAt: 100n })).toBe(28_800n)
    expect(unitsPerHourOf({ units: 2n ** 70n, assignedAt: 0n, revealedAt: 1n })).toBe(2n ** 64n - 1n)
  })
})
