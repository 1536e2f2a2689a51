import { describe, expect, test } from 'vitest'
import { TSR } from '../protocol/units.ts'
import type { EmissionsPoint } from './analytics.ts'
import { emissionsCsv, emissionsCsvColumns } from './emissionsCsv.ts'

const point = {
  epoch: 3n,
  fromEpoch: 0n,
  epochs: 4,
  startTime: 1_700_000_000n,
  endTime: 1_700_000_120n,
  grossFees: 1000n * TSR,
  verifiedFees: 1000n * TSR,
  supplySideFees: 900n * TSR,
  protocolRevenue: 100n * TSR,
  usageEmission: 50n * TSR,
  availabilityEmission: 150n * TSR,
  forfeited: 7n * TSR,
  emitted: 200n * TSR,
  earnings: -100n * TSR,
  coverageRatio: 0.5,
  coverageTargetRatio: 2,
  subsidyShareRatio: 0.181818181818,
  minted: 180n * TSR,
  burnedTotal: 120n * TSR,
  netIssuance: 60n * TSR,
  netIssuanceRatio: 1.5e-7,
  startSupply: 400_000_000n * TSR,
  endSupply: 400_000_060n * TSR,
  units: 40n,
  feeEma: 600n * TSR,
  utilisationRatio: 0.25,
  utilisationEmaRatio: 0.65,
  targetUtilisationRatio: 0.65,
  deadbandRatio: 0.05,
  utilisationBand: 'WITHIN',
  phiRatio: 1,
  baseAvailability: 40_000n * TSR,
  budget: 207n * TSR,
  cap: 80_000n * TSR,
  capUsedRatio: 0.0025875,
  limiter: 'CAP',
  capBoundEpochs: 1,
  stepUpBoundEpochs: 3,
  stepDownBoundEpochs: 0,
  providersPaid: 2,
  attestedCapacity: 1000n,
  challengesRecorded: 0,
  challengesPassed: 0,
  challengePassRatio: null,
  emissionHerfindahlRatio: 0.625,
  emissionTop10ShareRatio: 1,
  uniquePayers: 3,
  payerHerfindahlRatio: 0.46,
  payerTop10ShareRatio: 1,
  repeatPayerRatio: 0,
  jobsCompleted: 3,
  jobsFailed: 1,
} as const satisfies EmissionsPoint

describe('emissionsCsv', () => {
  test('a header naming every field with its unit, then a row per point, CRLF', () => {
    const csv = emissionsCsv([point, { ...point, epoch: 4n }])
    const lines = csv.split('\r\n')
    expect(lines).toHaveLength(4) // header, two rows, and the final line break
    expect(lines[3]).toBe('')
    const header = lines[0].split(',')
    expect(header).toHaveLength(Object.keys(point).length)
    for (const column of header) expect(column).toMatch(/_(tsr_wei|ratio|count|number|unix_s|units|units_per_hour|name)$/)
    expect(header.slice(0, 6)).toEqual([
      'epoch_number',
      'from_epoch_number',
      'epochs_count',
      'start_time_unix_s',
      'end_time_unix_s',
      'gross_fees_tsr_wei',
    ])
    const cells = Object.fromEntries(header.map((column, i) => [column, lines[1].split(',')[i]]))
    expect(cells).toMatchObject({
      epoch_number: '3',
      gross_fees_tsr_wei: '1000000000000000000000',
      earnings_tsr_wei: '-100000000000000000000',
      coverage_ratio: '0.5',
      coverage_target_ratio: '2',
      subsidy_share_ratio: '0.181818181818',
      // No exponent, whatever the size.
      net_issuance_ratio: '0.00000015',
      cap_used_ratio: '0.0025875',
      // A ratio of nothing is an empty cell.
      challenge_pass_ratio: '',
      utilisation_band_name: 'WITHIN',
      limiter_name: 'CAP',
      attested_capacity_units_per_hour: '1000',
      jobs_failed_count: '1',
    })
    expect(lines[2].split(',')[0]).toBe('4')
  })

  test('every column is a distinct name, and no points is the header alone', () => {
    const names = Object.values(emissionsCsvColumns)
    expect(new Set(names).size).toBe(names.length)
    expect(emissionsCsv([])).toBe(`${names.join(',')}\r\n`)
  })
})
