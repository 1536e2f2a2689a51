import { graphql, type ResultOf } from '../../graphql/tada.ts'

/** What the job page shows, read by its query and again by each `jobUpdated` event. */
export const JobDetailFragment = graphql(`
  fragment JobDetail on Job {
    id
    status
    verification
    redundancy
    round
    units
    maxPricePerUnit
    escrow
    fees
    burned
    refunded
    requester
    submittedAt
    submittedBlock
    txHash
    openedAt
    commitDeadline
    revealDeadline
    deadline
    finalizedAt
    fingerprint
    modelHash
    inputHash
    outputTolerance
    disputedProviders
    assignments {
      provider
      round
      slot
      outcome
      price
      collateral
      paid
      assignedAt
      commitDeadline
      committedAt
      commitment
      revealedAt
      fingerprint
      outputHash
      settledAt
    }
    audit {
      kind
      auditors
      bond
      bondBurned
      bondReturned
      bondToProvider
      challenger
      premium
      reimbursed
      startedAt
      settledAt
    }
    challenge {
      passed
      round
      unitsPerHour
      timestamp
      blockNumber
    }
    disagreements {
      a
      b
      index
      timestamp
      blockNumber
    }
    payments {
      id
      kind
      account
      amount
      timestamp
      blockNumber
    }
    slashes {
      provider
      amount
      beneficiary
      toBeneficiary
      burned
      timestamp
      blockNumber
      txHash
    }
    output {
      fingerprint
      outputHash
      provider
      blobPath
    }
  }
`)

export type JobDetail = ResultOf<typeof JobDetailFragment>
