import { graphqlRequest } from '../../client/serverClient.ts'
import {
  annualisedAmounts,
  type EmissionsAnnualised,
  type EmissionsInterval,
  type EmissionsPoint,
  type EmissionsReport,
} from '../analytics.ts'
import { emissionsCsvColumns } from '../emissionsCsv.ts'

/**
 * The live server's `emissionsVsUsage` (server/schema/epoch.ts) as the analytics' own {@link EmissionsReport}: the
 * same type the simulator's report draws from, so both go through the same charts.
 */

/** The point's fields that are `BigInt` in the schema (decimal strings on the wire); every other field is as sent. */
const bigintPointFields = {
  epoch: true,
  fromEpoch: true,
  startTime: true,
  endTime: true,
  grossFees: true,
  verifiedFees: true,
  supplySideFees: true,
  protocolRevenue: true,
  usageEmission: true,
  availabilityEmission: true,
  forfeited: true,
  emitted: true,
  earnings: true,
  minted: true,
  burnedTotal: true,
  netIssuance: true,
  startSupply: true,
  endSupply: true,
  units: true,
  feeEma: true,
  baseAvailability: true,
  budget: true,
  cap: true,
  attestedCapacity: true,
} as const satisfies { [K in keyof EmissionsPoint as EmissionsPoint[K] extends bigint ? K : never]-?: true }

// Every field of a point: the CSV's columns are typed over all of them.
const pointFields = Object.keys(emissionsCsvColumns).join(' ')
const emissionsVsUsageQuery = /* GraphQL */ `
  query EmissionsVsUsage($from: BigInt, $to: BigInt, $interval: EmissionsInterval) {
    emissionsVsUsage(from: $from, to: $to, interval: $interval) {
      from to interval windowEpochs coverageTargetRatio targetUtilisationRatio deadbandRatio
      points { ${pointFields} }
      totals { ${pointFields} }
      annualised { epochs netIssuanceRatio ${annualisedAmounts.join(' ')} }
    }
  }`

type Wire<T> = { [K in keyof T]: T[K] extends bigint ? string : T[K] }

function pointOf(wire: Wire<EmissionsPoint>): EmissionsPoint {
  const point: Record<string, unknown> = { ...wire }
  for (const field of Object.keys(bigintPointFields)) point[field] = BigInt(wire[field as keyof typeof bigintPointFields])
  return point as EmissionsPoint
}

function annualisedOf(wire: Wire<EmissionsAnnualised>): EmissionsAnnualised {
  const annualised: Record<string, unknown> = { ...wire }
  for (const field of annualisedAmounts) annualised[field] = BigInt(wire[field])
  return annualised as EmissionsAnnualised
}

/**
 * Reads `emissionsVsUsage(from, to, interval)` from the server at `serverUrl` (`from`/`to` default to the server's:
 * the last 100 closed epochs; at most 1,000 epochs a call). Throws the client's `ServerRequestError` when the server
 * can't be reached (retryable) or refuses the range.
 */
export async function fetchEmissionsVsUsage(parameters: {
  serverUrl: string
  from?: bigint
  to?: bigint
  interval: EmissionsInterval
  signal?: AbortSignal
}): Promise<EmissionsReport> {
  const data = await graphqlRequest<{
    emissionsVsUsage: Omit<Wire<EmissionsReport>, 'points' | 'totals' | 'annualised' | 'windowEpochs'> & {
      windowEpochs: number
      points: Wire<EmissionsPoint>[]
      totals: Wire<EmissionsPoint> | null
      annualised: Wire<EmissionsAnnualised> | null
    }
  }>({
    serverUrl: parameters.serverUrl,
    query: emissionsVsUsageQuery,
    variables: { from: parameters.from?.toString(), to: parameters.to?.toString(), interval: parameters.interval },
    signal: parameters.signal,
  })
  const report = data.emissionsVsUsage
  return {
    ...report,
    from: BigInt(report.from),
    to: BigInt(report.to),
    windowEpochs: BigInt(report.windowEpochs),
    points: report.points.map(pointOf),
    totals: report.totals && pointOf(report.totals),
    annualised: report.annualised && annualisedOf(report.annualised),
  }
}
