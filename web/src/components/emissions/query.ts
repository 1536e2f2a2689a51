import { graphql, type ResultOf } from '../../graphql/tada.ts'

const PointFields = graphql(`
  fragment EmissionsPointFields on EmissionsPoint {
    epoch
    fromEpoch
    epochs
    startTime
    endTime
    grossFees
    verifiedFees
    supplySideFees
    protocolRevenue
    usageEmission
    availabilityEmission
    forfeited
    emitted
    earnings
    coverageRatio
    coverageTargetRatio
    subsidyShareRatio
    minted
    burnedTotal
    netIssuance
    netIssuanceRatio
    startSupply
    endSupply
    feeEma
    utilisationRatio
    utilisationEmaRatio
    utilisationBand
    phiRatio
    baseAvailability
    budget
    cap
    capUsedRatio
    limiter
    capBoundEpochs
    stepUpBoundEpochs
    stepDownBoundEpochs
    providersPaid
    attestedCapacity
    challengesRecorded
    challengesPassed
    challengePassRatio
    emissionHerfindahlRatio
    emissionTop10ShareRatio
    uniquePayers
    payerHerfindahlRatio
    payerTop10ShareRatio
    repeatPayerRatio
    jobsCompleted
    jobsFailed
  }
`)

export const EmissionsQuery = graphql(
  `
  query Emissions($from: BigInt!, $to: BigInt!, $interval: EmissionsInterval!) {
    emissionsVsUsage(from: $from, to: $to, interval: $interval) {
      from
      to
      interval
      windowEpochs
      coverageTargetRatio
      targetUtilisationRatio
      deadbandRatio
      points {
        ...EmissionsPointFields
      }
      totals {
        ...EmissionsPointFields
      }
      annualised {
        epochs
        grossFees
        verifiedFees
        supplySideFees
        protocolRevenue
        usageEmission
        availabilityEmission
        forfeited
        emitted
        earnings
        minted
        burnedTotal
        netIssuance
        netIssuanceRatio
      }
    }
  }
`,
  [PointFields],
)

/** The newest closed epoch, to place "the last N epochs". */
export const LatestEpochQuery = graphql(`
  query LatestEpoch {
    epochs(first: 1, orderDirection: desc) {
      edges {
        node {
          id
        }
      }
    }
  }
`)

export const EpochAdvancedSubscription = graphql(`
  subscription EpochAdvanced {
    epochAdvanced {
      id
    }
  }
`)

export type EmissionsReport = ResultOf<typeof EmissionsQuery>['emissionsVsUsage']
export type EmissionsPoint = EmissionsReport['points'][number]
export type EmissionsAnnualised = NonNullable<EmissionsReport['annualised']>
