/** What the Emissions page shows, as its URL's query string keeps it: the roll-up and the range of epochs. */

export const intervals = [
  { value: 'EPOCH', label: 'Per epoch' },
  { value: 'D7', label: '7 days' },
  { value: 'D30', label: '30 days' },
] as const

export type Interval = (typeof intervals)[number]['value']

/** The last `last` closed epochs, or the epochs `from` to `to` (to: the latest closed one when absent). */
export type EpochRange = { kind: 'last'; last: number } | { kind: 'epochs'; from: bigint; to?: bigint }

export type EmissionsView = { interval: Interval; range: EpochRange }

export const defaultLast = 30
/** The widest range `emissionsVsUsage` serves in one call. */
export const maxEpochs = 1000

const isInterval = (value: string): value is Interval => intervals.some((i) => i.value === value)
const epochNumber = (value: string | null): bigint | undefined => (value !== null && /^\d{1,20}$/.test(value) ? BigInt(value) : undefined)

/**
 * The view a query string asks for (`interval=EPOCH|D7|D30`, `last=N` or `from=&to=`), with what was wrong with it: a
 * malformed value falls back to the default and is named in `problems`, so a hand-edited link still shows a page.
 */
export function viewOf(search: URLSearchParams): { view: EmissionsView; problems: string[] } {
  const problems: string[] = []
  const asked = search.get('interval')?.toUpperCase() ?? 'EPOCH'
  if (!isInterval(asked)) problems.push(`interval must be one of ${intervals.map((i) => i.value).join(', ')}, got “${asked.slice(0, 40)}”`)
  const interval = isInterval(asked) ? asked : 'EPOCH'

  const fromText = search.get('from')
  const toText = search.get('to')
  if (fromText !== null || toText !== null) {
    const from = epochNumber(fromText)
    const to = toText === null || toText === '' ? undefined : epochNumber(toText)
    if (from === undefined) problems.push(`from must be an epoch number, got “${(fromText ?? '').slice(0, 40)}”`)
    else if (toText !== null && toText !== '' && to === undefined) problems.push(`to must be an epoch number, got “${toText.slice(0, 40)}”`)
    else if (to !== undefined && to < from) problems.push(`from (${from}) is after to (${to})`)
    else if (to !== undefined && to - from + 1n > BigInt(maxEpochs))
      problems.push(`at most ${maxEpochs} epochs at once, asked for ${to - from + 1n}`)
    else return { view: { interval, range: { kind: 'epochs', from, to } }, problems }
  }

  const lastText = search.get('last')
  const last = lastText === null ? defaultLast : Number(lastText)
  if (!Number.isInteger(last) || last < 1 || last > maxEpochs) {
    problems.push(`last must be a whole number of epochs from 1 to ${maxEpochs}, got “${(lastText ?? '').slice(0, 40)}”`)
    return { view: { interval, range: { kind: 'last', last: defaultLast } }, problems }
  }
  return { view: { interval, range: { kind: 'last', last } }, problems }
}

/** The query string of `view` (the default range is left out). */
export function searchOf(view: EmissionsView): URLSearchParams {
  const search = new URLSearchParams({ interval: view.interval })
  if (view.range.kind === 'epochs') {
    search.set('from', view.range.from.toString())
    if (view.range.to !== undefined) search.set('to', view.range.to.toString())
  } else if (view.range.last !== defaultLast) search.set('last', String(view.range.last))
  return search
}

/** The epochs to ask the API for, given the latest closed epoch (undefined: none has closed yet, or not known). */
export function epochsToAsk(range: EpochRange, latest: bigint | undefined): { from: bigint; to: bigint } | undefined {
  if (range.kind === 'epochs') {
    if (range.to !== undefined) return { from: range.from, to: range.to }
    if (latest === undefined) return undefined
    // Before `from` has closed: ask for it alone, which comes back empty until it does.
    return { from: range.from, to: latest < range.from ? range.from : latest }
  }
  if (latest === undefined) return undefined
  const from = latest - BigInt(range.last) + 1n
  return { from: from < 0n ? 0n : from, to: latest }
}

/** `GET /analytics/emissions.csv` for the same epochs and roll-up as a drawn report. */
export function csvHref(report: { from: string; to: string; interval: Interval }): string {
  return `/analytics/emissions.csv?${new URLSearchParams({ from: report.from, to: report.to, interval: report.interval })}`
}
