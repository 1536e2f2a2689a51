/** How the pages show amounts, addresses and times. Amounts stay bigint until the last step. */

const WEI_PER_TSR = 10n ** 18n

/** Wei (a decimal string or bigint) as TSR with at most `digits` decimals, grouped, e.g. `1,234.5678 TSR`. */
export function formatTsr(wei: string | bigint | null | undefined, digits = 4, unit = true): string {
  if (wei === null || wei === undefined) return '—'
  const value = typeof wei === 'bigint' ? wei : BigInt(wei)
  const negative = value < 0n
  const abs = negative ? -value : value
  const whole = abs / WEI_PER_TSR
  const scale = 10n ** BigInt(digits)
  const frac = ((abs % WEI_PER_TSR) * scale) / WEI_PER_TSR
  const fracText = digits > 0 ? frac.toString().padStart(digits, '0').replace(/0+$/, '') : ''
  const text = `${negative ? '−' : ''}${whole.toLocaleString('en-US')}${fracText ? `.${fracText}` : ''}`
  return unit ? `${text} TSR` : text
}

/** Wei as a JS number of TSR, for charts only (never for amounts a person acts on). */
export function tsrNumber(wei: string | bigint): number {
  const value = typeof wei === 'bigint' ? wei : BigInt(wei)
  return Number(value / 10n ** 12n) / 1e6
}

/** `0x1234…abcd`. */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address
}

/** A unix-seconds timestamp (string or bigint) as local date and time; `—` when absent. */
export function formatTime(seconds: string | bigint | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—'
  return new Date(Number(seconds) * 1000).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' })
}

/** A number of seconds as `1 h 2 min`, `45 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ''}`.trim()
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** A ratio (0–1) as a percentage with `digits` decimals. */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  return ratio === null || ratio === undefined || !Number.isFinite(ratio) ? '—' : `${(ratio * 100).toFixed(digits)} %`
}
