import { formatTsr } from '../format.ts'
import { graphql, type ResultOf } from '../graphql/tada.ts'

/** What the table shows of each `Provider.claimableRewards` entry: spread `...ClaimableRewardFields` there. */
export const ClaimableRewardFields = graphql(`
  fragment ClaimableRewardFields on EpochReward {
    epoch
    usage
    availability
    amount
  }
`)

/** One closed epoch's reward a provider may still claim (wei). */
export type ClaimableReward = ResultOf<typeof ClaimableRewardFields>

/** A provider's claimable rewards, one row per closed epoch: its usage and availability shares and their total. */
export function ClaimableRewardsTable({ rewards, testId }: { rewards: readonly ClaimableReward[]; testId: string }) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">Epoch</th>
          <th scope="col" className="num">
            Usage
          </th>
          <th scope="col" className="num">
            Availability
          </th>
          <th scope="col" className="num">
            Total
          </th>
        </tr>
      </thead>
      <tbody>
        {rewards.map((r) => (
          <tr key={r.epoch}>
            <td>{r.epoch}</td>
            <td className="num">{formatTsr(r.usage, 8)}</td>
            <td className="num">{formatTsr(r.availability, 8)}</td>
            <td className="num">{formatTsr(r.amount, 8)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
