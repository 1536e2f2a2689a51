import { expect, test } from 'vitest'
import { liesOn } from './lieDecision.ts'

const provider = '0x00000000000000000000000000000000000000a1'

test('a cheater lies on every job at rate 1 (or true), never at 0 (or false)', () => {
  for (const jobId of ['1', '2', '99']) {
    expect(liesOn({ rate: 1, provider, jobId })).toBe(true)
    expect(liesOn({ rate: true, provider, jobId })).toBe(true)
    expect(liesOn({ rate: 0, provider, jobId })).toBe(false)
    expect(liesOn({ rate: false, provider, jobId })).toBe(false)
  }
})

test('at rate r it lies on a fraction r of jobs, the same ones every time', () => {
  const jobs = Array.from({ length: 20_000 }, (_, i) => String(i + 1))
  for (const rate of [0.05, 0.3, 0.5]) {
    const lied = jobs.filter((jobId) => liesOn({ rate, provider, jobId })).length
    // Binomial(20 000, r): 5 standard deviations either side.
    const sd = Math.sqrt(jobs.length * rate * (1 - rate))
    expect(Math.abs(lied - jobs.length * rate)).toBeLessThan(5 * sd)
  }
  expect(jobs.map((jobId) => liesOn({ rate: 0.3, provider, jobId }))).toEqual(jobs.map((jobId) => liesOn({ rate: 0.3, provider, jobId })))
})
