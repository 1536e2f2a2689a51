import { describe, expect, test } from 'vitest'
import { gatewaySubmitProblems } from './gateway.ts'
import { jobSpecProblems, type SubmitJobSpec, submitJobProblems } from './jobSpec.ts'

const now = 1_000_000n
const spec: SubmitJobSpec = {
  modelHash: `0x${'1'.repeat(64)}`,
  inputHash: `0x${'2'.repeat(64)}`,
  units: 4n,
  maxPricePerUnit: 10n ** 17n,
  minVramMiB: 0,
  gpuModel: 0,
  regions: [],
  redundancy: 2,
  verification: 0,
  deadline: now + 3600n,
  outputTolerance: 16,
}
const fields = (s: SubmitJobSpec) => submitJobProblems(s, now).map((p) => p.field)

describe('jobSpecProblems and submitJobProblems: what JobMarket.submitJob would refuse, by field', () => {
  test('a spec the contract takes has none, at the bounds too', () => {
    expect(submitJobProblems(spec, now)).toEqual([])
    expect(submitJobProblems({ ...spec, redundancy: 16, regions: Array(16).fill(spec.modelHash), outputTolerance: 23 }, now)).toEqual([])
    expect(
      submitJobProblems({ ...spec, verification: 'OPTIMISTIC', redundancy: 1, units: 2n ** 64n - 1n, maxPricePerUnit: 1n }, now),
    ).toEqual([])
    expect(jobSpecProblems({ ...spec, minVramMiB: 2n ** 32n - 1n, gpuModel: 4_294_967_295 })).toEqual([])
  })

  test('redundancy: 2 to 16 redundant, exactly 1 optimistic, whatever the sign', () => {
    for (const redundancy of [-1, 0, 1, 17]) expect(fields({ ...spec, redundancy })).toEqual(['redundancy'])
    for (const redundancy of [0, 2]) expect(fields({ ...spec, verification: 1, redundancy })).toEqual(['redundancy'])
    expect(submitJobProblems({ ...spec, verification: 2 }, now)).toEqual([
      { field: 'verification', message: 'verification must be 0 (Redundant) or 1 (Optimistic), got 2' },
    ])
  })

  test('amounts: positive units and price within their types, an escrow that cannot overflow', () => {
    expect(fields({ ...spec, units: 0n })).toEqual(['units'])
    expect(fields({ ...spec, units: -4n })).toEqual(['units'])
    expect(fields({ ...spec, units: 2n ** 64n })).toEqual(['units'])
    expect(fields({ ...spec, maxPricePerUnit: 0n })).toEqual(['maxPricePerUnit'])
    expect(fields({ ...spec, maxPricePerUnit: -1n })).toEqual(['maxPricePerUnit'])
    expect(fields({ ...spec, maxPricePerUnit: 2n ** 256n })).toEqual(['maxPricePerUnit'])
    // price × units × k × the take's bps past uint256 would revert with a panic, not a named error.
    expect(submitJobProblems({ ...spec, maxPricePerUnit: 2n ** 200n, units: 2n ** 50n }, now)).toEqual([
      { field: 'maxPricePerUnit', message: expect.stringContaining('maxPricePerUnit × units × 2 overflows the escrow') },
    ])
  })

  test('deadline, hashes, tolerance, regions and uint32 requirements', () => {
    expect(fields({ ...spec, deadline: now + 59n })).toEqual(['deadline'])
    expect(submitJobProblems({ ...spec, deadline: now }, now, 0n)).toEqual([
      { field: 'deadline', message: `deadline ${now} must be after the chain's time ${now}` },
    ])
    expect(fields({ ...spec, modelHash: `0x${'0'.repeat(64)}`, inputHash: `0x${'0'.repeat(64)}` })).toEqual(['modelHash', 'inputHash'])
    for (const outputTolerance of [0, 24]) expect(fields({ ...spec, outputTolerance })).toEqual(['outputTolerance'])
    expect(fields({ ...spec, regions: Array(17).fill(spec.modelHash) })).toEqual(['regions'])
    expect(fields({ ...spec, minVramMiB: -1, gpuModel: 2n ** 32n })).toEqual(['minVramMiB', 'gpuModel'])
  })

  test('every message starts with its field; the gateway reports the same messages', () => {
    const bad = {
      ...spec,
      redundancy: 0,
      units: 0n,
      maxPricePerUnit: 0n,
      deadline: 0n,
      modelHash: `0x${'0'.repeat(64)}`,
      outputTolerance: 0,
    }
    const problems = submitJobProblems(bad, now)
    expect(problems.map((p) => p.field)).toEqual(['redundancy', 'units', 'maxPricePerUnit', 'deadline', 'modelHash', 'outputTolerance'])
    for (const p of problems) expect(p.message.startsWith(p.field)).toBe(true)
    expect(
      gatewaySubmitProblems(
        {
          ...bad,
          modelHash: `0x${'0'.repeat(64)}`,
          inputHash: `0x${'2'.repeat(64)}`,
          regions: [],
          verification: 0,
          minVramMiB: 0,
          gpuModel: 0,
        },
        now,
      ),
    ).toEqual(problems.map((p) => p.message))
  })
})
