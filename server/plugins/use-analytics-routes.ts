import type { Plugin } from 'graphql-yoga'
import { type EmissionsInterval, intervalEpochs } from '../../economics/analytics.ts'
import { emissionsCsv } from '../../economics/emissionsCsv.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import type { Views } from '../db/database.ts'
import { EmissionsParameterError, type EmissionsQuery, findEmissionsVsUsage } from '../db/emissionsVsUsage.ts'

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } })

const integerParameters = {
  from: 'an epoch number',
  to: 'an epoch number',
  fromTime: 'unix seconds',
  toTime: 'unix seconds',
} as const satisfies Partial<Record<keyof EmissionsQuery, string>>

/** The query string of `/analytics/emissions.csv` as an {@link EmissionsQuery}; a malformed value is refused by name. */
function emissionsQueryOf(search: URLSearchParams): EmissionsQuery {
  const query: EmissionsQuery = {}
  for (const [name, what] of Object.entries(integerParameters) as [keyof typeof integerParameters, string][]) {
    const value = search.get(name)
    if (value === null || value === '') continue
    if (!/^\d{1,78}$/.test(value))
      throw new EmissionsParameterError(name, `${name} must be a non-negative integer (${what}), got "${value.slice(0, 40)}"`)
    query[name] = BigInt(value)
  }
  const interval = search.get('interval')
  if (interval !== null && interval !== '') {
    const name = interval.toUpperCase()
    if (!Object.hasOwn(intervalEpochs, name))
      throw new EmissionsParameterError(
        'interval',
        `interval must be one of ${Object.keys(intervalEpochs).join(', ')}, got "${interval.slice(0, 40)}"`,
      )
    query.interval = name as EmissionsInterval
  }
  return query
}

/**
 * `GET /analytics/emissions.csv?from=&to=&interval=` (or `fromTime=&toTime=` in unix seconds): the points of the
 * `emissionsVsUsage` query as CSV (`economics/emissionsCsv.ts`), a header row naming each column with its unit. A bad
 * parameter (not a number, a reversed or too wide range, an unknown interval) is 400 `{ error, parameter }`.
 */
export function useAnalyticsRoutes(options: { views: Views; deployment: Deployment }): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (url.pathname !== '/analytics/emissions.csv') return
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return endResponse(json(405, { error: 'use GET /analytics/emissions.csv?from=&to=&interval=' }))
      try {
        const report = await findEmissionsVsUsage(options.views, { ...emissionsQueryOf(url.searchParams), deployment: options.deployment })
        const filename = `emissions-${report.from}-${report.to}-${report.interval.toLowerCase()}.csv`
        return endResponse(
          new Response(emissionsCsv(report.points), {
            headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` },
          }),
        )
      } catch (error) {
        if (error instanceof EmissionsParameterError) return endResponse(json(400, { error: error.message, parameter: error.parameter }))
        throw error
      }
    },
  }
}
