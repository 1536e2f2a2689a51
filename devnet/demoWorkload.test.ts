import { describe, expect, test } from 'vitest'
import { Verification } from '../protocol/enums.ts'
import { type DemoJobMode, demoJobModes } from './demoWorkload.ts'
import { DevnetError } from './devnetError.ts'

const first = (count: number, parameters: Parameters<typeof demoJobModes>[0]): DemoJobMode[] => {
  const modes = demoJobModes(parameters)
  return Array.from({ length: count }, () => modes.next().value)
}
const O = { verification: Verification.Optimistic, redundancy: 1 }
const R = (redundancy: number) => ({ verification: Verification.Redundant, redundancy })

describe('demoJobModes', () => {
  test('half: every other job optimistic, the redundant ones still rotating through every k', () => {
    expect(first(8, { optimisticShare: 0.5, redundancies: [2, 3] })).toEqual([R(2), O, R(3), O, R(2), O, R(3), O])
  })

  test('none and all: only redundant jobs, as before the optimistic mode, or only optimistic ones', () => {
    expect(first(4, { optimisticShare: 0, redundancies: [2, 3] })).toEqual([R(2), R(3), R(2), R(3)])
    expect(first(4, { optimisticShare: 1, redundancies: [] })).toEqual([O, O, O, O])
  })

  test('any share is spread evenly: exactly ⌊n·share⌋ of the first n jobs are optimistic', () => {
    for (const share of [0.1, 0.25, 1 / 3, 0.7]) {
      const modes = first(300, { optimisticShare: share, redundancies: [2] })
      for (const n of [10, 99, 300])
        expect(modes.slice(0, n).filter((m) => m.verification === Verification.Optimistic)).toHaveLength(Math.floor(n * share))
    }
  })

  test('a share outside 0–1, or redundant jobs without a k, are refused at the call', () => {
    for (const share of [-0.1, 1.5, Number.NaN])
      expect(() => demoJobModes({ optimisticShare: share, redundancies: [2] })).toThrow(DevnetError)
    expect(() => demoJobModes({ optimisticShare: 0.5, redundancies: [] })).toThrow('needs a redundancy')
  })
})
