import type { EmissionsPoint } from './analytics.ts'

/**
 * The CSV column of each {@link EmissionsPoint} field, named in snake_case with its unit: `_tsr_wei` (token amounts,
 * 18 decimals), `_ratio` (1 = 100 %), `_count`, `_number` (epoch numbers), `_unix_s`, `_units` (compute units), `_units_per_hour`, `_name`
 * (an enum's value). Typed over every field, so a field added to the point without a column fails to compile.
 */
export const emissionsCsvColumns = {
  epoch: 'epoch_number',
  fromEpoch: 'from_epoch_number',
  epochs: 'epochs_count',
  startTime: 'start_time_unix_s',
  endTime: 'end_time_unix_s',
  grossFees: 'gross_fees_tsr_wei',
  verifiedFees: 'verified_fees_tsr_wei',
  supplySideFees: 'supply_side_fees_tsr_wei',
  protocolRevenue: 'protocol_revenue_tsr_wei',
  usageEmission: 'usage_emission_tsr_wei',
  availabilityEmission: 'availability_emission_tsr_wei',
  forfeited: 'forfeited_tsr_wei',
  emitted: 'emitted_tsr_wei',
  earnings: 'earnings_tsr_wei',
  coverageRatio: 'coverage_ratio',
  coverageTargetRatio: 'coverage_target_ratio',
  subsidyShareRatio: 'subsidy_share_ratio',
  minted: 'minted_tsr_wei',
  burnedTotal: 'burned_total_tsr_wei',
  netIssuance: 'net_issuance_tsr_wei',
  netIssuanceRatio: 'net_issuance_ratio',
  startSupply: 'start_supply_tsr_wei',
  endSupply: 'end_supply_tsr_wei',
  units: 'paid_units',
  feeEma: 'fee_ema_tsr_wei',
  utilisationRatio: 'utilisation_ratio',
  utilisationEmaRatio: 'utilisation_ema_ratio',
  targetUtilisationRatio: 'target_utilisation_ratio',
  deadbandRatio: 'deadband_ratio',
  utilisationBand: 'utilisation_band_name',
  phiRatio: 'phi_ratio',
  baseAvailability: 'base_availability_tsr_wei',
  budget: 'budget_tsr_wei',
  cap: 'cap_tsr_wei',
  capUsedRatio: 'cap_used_ratio',
  limiter: 'limiter_name',
  capBoundEpochs: 'cap_bound_epochs_count',
  stepUpBoundEpochs: 'step_up_bound_epochs_count',
  stepDownBoundEpochs: 'step_down_bound_epochs_count',
  providersPaid: 'providers_paid_count',
  attestedCapacity: 'attested_capacity_units_per_hour',
  challengesRecorded: 'challenges_recorded_count',
  challengesPassed: 'challenges_passed_count',
  challengePassRatio: 'challenge_pass_ratio',
  emissionHerfindahlRatio: 'emission_herfindahl_ratio',
  emissionTop10ShareRatio: 'emission_top10_share_ratio',
  uniquePayers: 'unique_payers_count',
  payerHerfindahlRatio: 'payer_herfindahl_ratio',
  payerTop10ShareRatio: 'payer_top10_share_ratio',
  repeatPayerRatio: 'repeat_payer_ratio',
  jobsCompleted: 'jobs_completed_count',
  jobsFailed: 'jobs_failed_count',
} as const satisfies { [K in keyof EmissionsPoint]-?: string }

const fields = Object.keys(emissionsCsvColumns) as (keyof EmissionsPoint)[]

/** A cell: a ratio in plain decimals (no exponent: 1.5e-7 is 0.00000015), anything else as its string; null empty. */
function cell(value: EmissionsPoint[keyof EmissionsPoint]): string {
  if (value === null) return ''
  if (typeof value === 'number' && Math.abs(value) < 1e21) return value.toFixed(12).replace(/\.?0+$/, '')
  return String(value)
}

/**
 * `points` as CSV (RFC 4180, CRLF): the header row of {@link emissionsCsvColumns}, then a row per point. Amounts are
 * decimal integers, ratios decimals to 12 places without trailing zeros, a null ratio an empty cell. No value holds a comma or a quote, so none is quoted.
 */
export function emissionsCsv(points: readonly EmissionsPoint[]): string {
  const lines = [fields.map((field) => emissionsCsvColumns[field]).join(',')]
  for (const point of points) lines.push(fields.map((field) => cell(point[field])).join(','))
  return `${lines.join('\r\n')}\r\n`
}
