import { Decimal } from 'decimal.js'
import { WAD } from '../../protocol/units.ts'
import { stepEpoch } from '../emissionLaw.ts'
import { BASE_DECAY_WAD } from '../params.ts'
import type { LawStep } from './simulate.ts'

/**
 * A variant of the law with another half-life T_B of the base availability, for exploring only (the sweep and the
 * scenarios it runs). T_B is a contract constant, `BASE_DECAY_WAD = 2^(−1/540)`; the deployed law is `stepEpoch` with
 * that constant and nothing here changes it.
 */

/** decimal.js as economics/constants.ts configures it: 80 significant digits, rounding down. */
const Dec = Decimal.clone({ precision: 80, rounding: Decimal.ROUND_DOWN })

/** `2^(−1/halfLife)` floored to WAD, computed as constants.ts computes `BASE_DECAY_WAD` (equal to it at 540). */
export function baseDecayOf(halfLife: number): bigint {
  return BigInt(new Dec(2).pow(new Dec(-1).div(halfLife)).mul(new Dec(10).pow(18)).floor().toFixed(0))
}

/**
 * `stepEpoch` with `decay` in place of `BASE_DECAY_WAD`: the law decays B_k with its constant after closing the epoch,
 * and this replaces that one product with `B_k · decay / WAD`, the same rounding. With the law's own constant it is
 * `stepEpoch` itself.
 */
export function lawWithBaseDecay(decay: bigint): LawStep {
  if (decay === BASE_DECAY_WAD) return stepEpoch
  return (parameters) => {
    const step = stepEpoch(parameters)
    return { ...step, state: { ...step.state, baseAvailability: (step.outputs.baseAvailability * decay) / WAD } }
  }
}
