import { type JobStatusName, jobStatusNames, type VerificationName, verificationNames } from '../../../../protocol/enums.ts'

export const jobOrderBys = ['ID', 'SUBMITTED_AT', 'DEADLINE', 'ESCROW', 'UNITS', 'MAX_PRICE_PER_UNIT'] as const
export type JobOrderByName = (typeof jobOrderBys)[number]

export const jobOrderByLabels: Record<JobOrderByName, string> = {
  ID: 'Id',
  SUBMITTED_AT: 'Submitted',
  DEADLINE: 'Deadline',
  ESCROW: 'Escrow',
  UNITS: 'Units',
  MAX_PRICE_PER_UNIT: 'Max price per unit',
}

export const pageSizes = [10, 20, 50, 100] as const

/** The explorer's view as its URL query string carries it: filters, order, page size and the cursors paged through. */
export type JobFilters = {
  status: JobStatusName[]
  verification: VerificationName | ''
  requester: string
  provider: string
  model: string
  orderBy: JobOrderByName
  direction: 'asc' | 'desc'
  first: number
  /**
   * The `endCursor` of each page paged past, in order: the view starts after the last. The API pages forward only,
   * so going back drops the last one.
   */
  after: string[]
}

export const defaultJobFilters: JobFilters = {
  status: [],
  verification: '',
  requester: '',
  provider: '',
  model: '',
  orderBy: 'ID',
  direction: 'desc',
  first: 20,
  after: [],
}

/** What a person typed into each filter field, before it is checked. */
export type FilterField = 'status' | 'verification' | 'requester' | 'provider' | 'model' | 'orderBy' | 'direction' | 'first'
export type FilterErrors = Partial<Record<FilterField, string>>

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const hashPattern = /^0x[0-9a-fA-F]{64}$/

/** Why each field of `filters` can't be sent to the API, by field; empty when all can. */
export function checkJobFilters(filters: JobFilters): FilterErrors {
  const errors: FilterErrors = {}
  const bad = filters.status.filter((s) => !jobStatusNames.includes(s))
  if (bad.length) errors.status = `Status: unknown ${bad.join(', ')} (one of ${jobStatusNames.join(', ')})`
  if (filters.verification && !verificationNames.includes(filters.verification))
    errors.verification = `Verification: must be ${verificationNames.join(' or ')}, got "${filters.verification}"`
  if (filters.requester && !addressPattern.test(filters.requester))
    errors.requester = `Requester: "${filters.requester}" is not an address (0x followed by 40 hex digits)`
  if (filters.provider && !addressPattern.test(filters.provider))
    errors.provider = `Provider: "${filters.provider}" is not an address (0x followed by 40 hex digits)`
  if (filters.model && !hashPattern.test(filters.model))
    errors.model = `Model hash: "${filters.model}" is not a sha256 (0x followed by 64 hex digits)`
  if (!jobOrderBys.includes(filters.orderBy))
    errors.orderBy = `Order by: must be one of ${jobOrderBys.join(', ')}, got "${filters.orderBy}"`
  if (filters.direction !== 'asc' && filters.direction !== 'desc')
    errors.direction = `Direction: must be asc or desc, got "${filters.direction}"`
  if (!(pageSizes as readonly number[]).includes(filters.first)) errors.first = `Jobs per page: must be one of ${pageSizes.join(', ')}`
  return errors
}

/** The explorer's view from its URL query string (without the `?`); unknown values are kept for `checkJobFilters` to name. */
export function parseJobFilters(search: string): JobFilters {
  const q = new URLSearchParams(search)
  const text = (key: string) => q.get(key)?.trim() ?? ''
  return {
    status: (q.get('status') ?? '').split(',').filter(Boolean) as JobStatusName[],
    verification: text('verification') as JobFilters['verification'],
    requester: text('requester'),
    provider: text('provider'),
    model: text('model'),
    orderBy: (q.get('orderBy') ?? defaultJobFilters.orderBy) as JobOrderByName,
    direction: (q.get('direction') ?? defaultJobFilters.direction) as JobFilters['direction'],
    first: q.has('first') ? Number(q.get('first')) : defaultJobFilters.first,
    after: q.getAll('after'),
  }
}

/** The query string of a view (without the `?`), leaving out what is the default so plain links stay short. */
export function jobFiltersSearch(filters: JobFilters): string {
  const q = new URLSearchParams()
  if (filters.status.length) q.set('status', filters.status.join(','))
  if (filters.verification) q.set('verification', filters.verification)
  if (filters.requester) q.set('requester', filters.requester)
  if (filters.provider) q.set('provider', filters.provider)
  if (filters.model) q.set('model', filters.model)
  if (filters.orderBy !== defaultJobFilters.orderBy) q.set('orderBy', filters.orderBy)
  if (filters.direction !== defaultJobFilters.direction) q.set('direction', filters.direction)
  if (filters.first !== defaultJobFilters.first) q.set('first', String(filters.first))
  for (const cursor of filters.after) q.append('after', cursor)
  return q.toString()
}

/** The API's `where` for a (checked) view; undefined when it filters nothing. */
export function jobWhere(filters: JobFilters) {
  const where = {
    ...(filters.status.length ? { status_in: filters.status } : {}),
    ...(filters.verification ? { verification: filters.verification } : {}),
    ...(filters.requester ? { requester: filters.requester as `0x${string}` } : {}),
    ...(filters.provider ? { provider: filters.provider as `0x${string}` } : {}),
    ...(filters.model ? { modelHash: filters.model.toLowerCase() as `0x${string}` } : {}),
  }
  return Object.keys(where).length ? where : undefined
}
