import { tsrNumber } from '../../format.ts'
import { Chart } from '../Chart.tsx'
import { multiple, percentPoints, plain, toPercentPoints } from './numbers.ts'
import type { EmissionsPoint, EmissionsReport } from './query.ts'

/** Colours with 4.5:1 contrast on white, so the legends' labels read as well as the lines. */
const colour = {
  blue: '#1f5fa8',
  green: '#1d6b3d',
  purple: '#7b3fb0',
  orange: '#b34700',
  red: '#a32020',
  teal: '#0f6b6b',
  grey: '#4a5360',
  gold: '#7a5200',
}
const dashed = [6, 4]
const dotted = [2, 4]

/**
 * The report's points as charts over the epoch (x: the window's last epoch). Amounts are drawn in TSR as floats (only
 * here), ratios in percent; the table beside them has the exact values.
 */
export function EmissionsCharts({ report }: { report: EmissionsReport }) {
  const points = report.points
  const x = points.map((p) => Number(p.epoch))
  const tsr = (pick: (p: EmissionsPoint) => string) => points.map((p) => tsrNumber(pick(p)))
  const ratio = (pick: (p: EmissionsPoint) => number | null) => points.map((p) => toPercentPoints(pick(p)))
  const level = (value: number) => points.map(() => value * 100)
  const whenLimiter = (limiter: EmissionsPoint['limiter']) => points.map((p) => (p.limiter === limiter ? tsrNumber(p.budget) : null))
  const span = report.windowEpochs === 1 ? 'per epoch' : `per ${report.windowEpochs} epochs, rolling`
  const common = { x, xLabel: 'epoch' }

  return (
    <>
      <h2>Fees and emissions</h2>
      <div className="grid-2">
        <Chart
          {...common}
          title={`Fees (left) vs emissions (right, dashed), TSR ${span}`}
          testId="fees-chart"
          series={[
            { label: 'gross fees', color: colour.blue, values: tsr((p) => p.grossFees) },
            { label: 'verified fees', color: colour.green, values: tsr((p) => p.verifiedFees) },
            { label: 'supply-side fees', color: colour.teal, values: tsr((p) => p.supplySideFees) },
            { label: 'usage emission', color: colour.purple, values: tsr((p) => p.usageEmission), dash: dashed, axis: 'right' },
            {
              label: 'availability emission',
              color: colour.orange,
              values: tsr((p) => p.availabilityEmission),
              dash: dashed,
              axis: 'right',
            },
            { label: 'forfeited', color: colour.grey, values: tsr((p) => p.forfeited), dash: dotted, axis: 'right' },
          ]}
          yLabel="fees (TSR)"
          yRightLabel="emissions (TSR)"
          formatY={plain}
        />
        <Chart
          {...common}
          title={`Coverage (protocol revenue / emitted) against its τ/κ target ${span}`}
          testId="coverage-chart"
          series={[
            { label: 'coverage', color: colour.blue, values: points.map((p) => p.coverageRatio) },
            { label: 'τ/κ target', color: colour.red, values: points.map((p) => p.coverageTargetRatio), dash: dashed },
          ]}
          yLabel="burned / emitted"
          formatY={multiple}
        />
        <Chart
          {...common}
          title={`Subsidy share of provider income (emitted / (emitted + supply-side fees)) ${span}`}
          testId="subsidy-chart"
          series={[{ label: 'subsidy share', color: colour.orange, values: ratio((p) => p.subsidyShareRatio) }]}
          yLabel="share"
          formatY={percentPoints}
        />
        <Chart
          {...common}
          title={`Net issuance (minted − burned) as % of supply ${span}`}
          testId="issuance-chart"
          series={[{ label: 'net issuance', color: colour.purple, values: ratio((p) => p.netIssuanceRatio) }]}
          yLabel="% of supply"
          formatY={percentPoints}
        />
      </div>

      <h2>Controller</h2>
      <div className="grid-2">
        <Chart
          {...common}
          title="Utilisation against the U* band, and φ"
          testId="utilisation-chart"
          series={[
            { label: 'U_k', color: colour.teal, values: ratio((p) => p.utilisationRatio) },
            { label: 'Ū', color: colour.blue, values: ratio((p) => p.utilisationEmaRatio) },
            { label: 'U*', color: colour.green, values: level(report.targetUtilisationRatio), dash: dashed },
            {
              label: 'U* − db',
              color: colour.green,
              values: level(report.targetUtilisationRatio - report.deadbandRatio),
              dash: dotted,
            },
            {
              label: 'U* + db',
              color: colour.green,
              values: level(report.targetUtilisationRatio + report.deadbandRatio),
              dash: dotted,
            },
            { label: 'φ', color: colour.orange, values: ratio((p) => p.phiRatio) },
          ]}
          yLabel="ratio"
          formatY={percentPoints}
        />
        <Chart
          {...common}
          title="F̄, the fee average (left), and B_k, the base availability (right), TSR"
          testId="controller-chart"
          series={[
            { label: 'F̄', color: colour.blue, values: tsr((p) => p.feeEma) },
            {
              label: `B_k${report.windowEpochs === 1 ? '' : ' (Σ)'}`,
              color: colour.orange,
              values: tsr((p) => p.baseAvailability),
              axis: 'right',
            },
          ]}
          yLabel="F̄ (TSR)"
          yRightLabel="B_k (TSR)"
          formatY={plain}
        />
        <Chart
          {...common}
          title={`Budget E against the cap, TSR ${span}; markers: the bound that shaped E`}
          testId="budget-chart"
          series={[
            { label: 'budget E', color: colour.blue, values: tsr((p) => p.budget) },
            { label: 'cap', color: colour.red, values: tsr((p) => p.cap), dash: dashed },
            { label: 'step-up bound', color: colour.green, values: whenLimiter('STEP_UP') },
            { label: 'step-down bound', color: colour.orange, values: whenLimiter('STEP_DOWN') },
            { label: 'cap bound', color: colour.red, values: whenLimiter('CAP') },
          ]}
          yLabel="TSR"
          formatY={plain}
        />
        <Chart
          {...common}
          title={`Concentration: Herfindahl index and top-10 share ${span}`}
          testId="concentration-chart"
          series={[
            { label: 'emission Herfindahl', color: colour.purple, values: ratio((p) => p.emissionHerfindahlRatio) },
            { label: 'emission top-10', color: colour.purple, values: ratio((p) => p.emissionTop10ShareRatio), dash: dashed },
            { label: 'payer Herfindahl', color: colour.teal, values: ratio((p) => p.payerHerfindahlRatio) },
            { label: 'payer top-10', color: colour.teal, values: ratio((p) => p.payerTop10ShareRatio), dash: dashed },
          ]}
          yLabel="share"
          formatY={percentPoints}
        />
      </div>

      <h2>Supply and demand</h2>
      <div className="grid-2">
        <Chart
          {...common}
          title="Supply side: providers paid (left) and attested capacity in units per hour (right)"
          testId="supply-chart"
          series={[
            { label: 'providers paid', color: colour.blue, values: points.map((p) => p.providersPaid) },
            { label: 'attested capacity', color: colour.orange, values: points.map((p) => Number(p.attestedCapacity)), axis: 'right' },
          ]}
          yLabel="providers"
          yRightLabel="units/h"
          formatY={plain}
        />
        <Chart
          {...common}
          title="Demand side: unique payers and jobs"
          testId="demand-chart"
          series={[
            { label: 'unique payers', color: colour.teal, values: points.map((p) => p.uniquePayers) },
            { label: 'jobs completed', color: colour.green, values: points.map((p) => p.jobsCompleted), axis: 'right' },
            { label: 'jobs failed', color: colour.red, values: points.map((p) => p.jobsFailed), axis: 'right', dash: dashed },
          ]}
          yLabel="payers"
          yRightLabel="jobs"
          formatY={plain}
        />
        <Chart
          {...common}
          title="Challenge pass rate (supply) and repeat payers (demand)"
          testId="rates-chart"
          series={[
            { label: 'challenge pass rate', color: colour.orange, values: ratio((p) => p.challengePassRatio) },
            { label: 'repeat payers', color: colour.teal, values: ratio((p) => p.repeatPayerRatio) },
          ]}
          yLabel="rate"
          formatY={percentPoints}
        />
      </div>
    </>
  )
}
