import { formatTime } from '../../format.ts'
import { multiple, percent, ratioText, tsrText } from './numbers.ts'
import type { EmissionsPoint } from './query.ts'

type Column = { field: keyof EmissionsPoint; header: string; text: (point: EmissionsPoint) => string; num?: boolean }

const amount = (field: keyof EmissionsPoint, header: string): Column => ({
  field,
  header: `${header} (TSR)`,
  text: (p) => tsrText(p[field] as string),
  num: true,
})
const ratio = (field: keyof EmissionsPoint, header: string, format = percent): Column => ({
  field,
  header,
  text: (p) => ratioText(p[field] as number | null, format),
  num: true,
})
const count = (field: keyof EmissionsPoint, header: string): Column => ({
  field,
  header,
  text: (p) => Number(p[field]).toLocaleString('en-US'),
  num: true,
})

/** Every number the charts draw, in the order of the charts, plus the window and the limiter. */
const columns: Column[] = [
  { field: 'endTime', header: 'Ends', text: (p) => formatTime(p.endTime) },
  amount('grossFees', 'Gross fees'),
  amount('verifiedFees', 'Verified fees'),
  amount('supplySideFees', 'Supply-side fees'),
  amount('protocolRevenue', 'Protocol revenue'),
  amount('usageEmission', 'Usage emission'),
  amount('availabilityEmission', 'Availability emission'),
  amount('forfeited', 'Forfeited'),
  amount('emitted', 'Emitted'),
  amount('earnings', 'Earnings'),
  ratio('coverageRatio', 'Coverage', multiple),
  ratio('coverageTargetRatio', 'Coverage target τ/κ', multiple),
  ratio('subsidyShareRatio', 'Subsidy share'),
  amount('netIssuance', 'Net issuance'),
  ratio('netIssuanceRatio', 'Net issuance (% of supply)'),
  ratio('utilisationRatio', 'U_k'),
  ratio('utilisationEmaRatio', 'Ū'),
  { field: 'utilisationBand', header: 'Ū vs U* band', text: (p) => p.utilisationBand },
  ratio('phiRatio', 'φ'),
  amount('feeEma', 'F̄'),
  amount('baseAvailability', 'B_k'),
  amount('budget', 'Budget E'),
  amount('cap', 'Cap'),
  ratio('capUsedRatio', 'E / cap'),
  { field: 'limiter', header: 'Limiter', text: (p) => p.limiter },
  ratio('emissionHerfindahlRatio', 'Emission Herfindahl'),
  ratio('emissionTop10ShareRatio', 'Emission top-10 share'),
  ratio('payerHerfindahlRatio', 'Payer Herfindahl'),
  ratio('payerTop10ShareRatio', 'Payer top-10 share'),
  count('providersPaid', 'Providers paid'),
  count('attestedCapacity', 'Attested capacity (units/h)'),
  ratio('challengePassRatio', 'Challenge pass rate'),
  count('uniquePayers', 'Unique payers'),
  ratio('repeatPayerRatio', 'Repeat payers'),
  count('jobsCompleted', 'Jobs completed'),
  count('jobsFailed', 'Jobs failed'),
]

/** The window a row covers: its epoch, or the first to the last of a rolled-up window. */
const windowText = (p: EmissionsPoint) => (p.fromEpoch === p.epoch ? p.epoch : `${p.fromEpoch}–${p.epoch}`)

/** The drawn numbers as a table, one row per point: what the canvases show, for screen readers and for reading off. */
export function EmissionsTable({ points, caption }: { points: EmissionsPoint[]; caption: string }) {
  return (
    // Browsers make a scrolling box focusable on their own, so a keyboard can scroll the wide table sideways.
    <div className="emissions-table-scroll">
      <table data-testid="emissions-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Epoch</th>
            {columns.map((c) => (
              <th scope="col" key={c.field} className={c.num ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.epoch} data-epoch={p.epoch}>
              <th scope="row">{windowText(p)}</th>
              {columns.map((c) => (
                <td
                  key={c.field}
                  data-field={c.field}
                  className={
                    [c.num ? 'num' : '', c.field === 'limiter' && p.limiter !== 'NONE' ? `limiter-${p.limiter}` : ''].join(' ').trim() ||
                    undefined
                  }
                >
                  {c.text(p)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
