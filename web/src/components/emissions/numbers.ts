import { formatTsr } from '../../format.ts'

/** A chart axis value: at most 4 significant digits, grouped. */
export const plain = (value: number): string => value.toLocaleString('en-US', { maximumSignificantDigits: 4 })

/**
 * A value already in percent (charts draw ratios × 100, so that a flat-zero series still gets a 0–100 % axis). Tiny
 * ones, like an epoch's net issuance, in exponent notation, so an axis label stays short.
 */
export function percentPoints(value: number): string {
  if (value !== 0 && Math.abs(value) < 0.001) return `${value.toExponential(1)} %`
  return `${value.toLocaleString('en-US', { maximumSignificantDigits: 3 })} %`
}

/** A ratio (1 = 100 %) as a percentage. */
export const percent = (ratio: number): string => percentPoints(ratio * 100)

/** A ratio as a chart draws it: in percent; null (nothing to divide by) stays a gap. */
export const toPercentPoints = (ratio: number | null): number | null => (ratio === null ? null : ratio * 100)

/** Coverage (burned / emitted) as a multiple: 1× is break-even. */
export const multiple = (value: number): string => `${value.toLocaleString('en-US', { maximumSignificantDigits: 3 })}×`

/** A ratio in the table and the cards; `—` when the API has none (nothing to divide by). */
export function ratioText(value: number | null, format: (value: number) => string = percent): string {
  return value === null ? '—' : format(value)
}

/** An amount in the table, in TSR without the unit (the column header carries it). */
export const tsrText = (wei: string): string => formatTsr(wei, 6, false)
