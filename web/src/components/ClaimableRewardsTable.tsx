import { formatTsr } from '../format.ts'

/** One closed epoch's reward a provider may still claim, as the API's `claimableRewards` lists it (wei). */
export type ClaimableReward = { epoch: string; usage: string; availability: string; amount: string }

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
