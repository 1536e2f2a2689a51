import { describe, expect, test } from 'vitest'
import type { JobCheck } from '../checkJob.ts'
import { createJobVetting } from './jobVetting.ts'

const spec = { modelHash: `0x${'aa'.repeat(32)}`, inputHash: `0x${'bb'.repeat(32)}`, units: 4n }

describe('createJobVetting', () => {
  test('asks once per (model, input, units) for a final verdict', async () => {
    let asked = 0
    const invalid: JobCheck = { runnable: false, problems: [{ code: 'MODEL_INVALID', message: 'does not load' }] }
    const vet = createJobVetting(async () => {
      asked++
      return invalid
    })
    expect(await vet(spec)).toBe(invalid)
    expect(await vet({ ...spec, modelHash: spec.modelHash.toUpperCase().replace('0X', '0x') })).toBe(invalid)
    expect(asked).toBe(1)
    await vet({ ...spec, units: 5n })
    expect(asked).toBe(2)
  })

  test('asks again while a blob is missing: it may still be uploaded', async () => {
    const verdicts: JobCheck[] = [
      { runnable: false, problems: [{ code: 'INPUT_NOT_FOUND', message: 'upload it first' }] },
      { runnable: true, problems: [] },
    ]
    let asked = 0
    const vet = createJobVetting(async () => verdicts[asked++] ?? { runnable: true, problems: [] })
    expect((await vet(spec)).runnable).toBe(false)
    expect((await vet(spec)).runnable).toBe(true)
    expect((await vet(spec)).runnable).toBe(true)
    expect(asked).toBe(2)
  })
})
