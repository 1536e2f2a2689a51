import { Decimal } from 'decimal.js'

/** decimal.js clone for the law's constants: 80 significant digits, rounding down. */
const Dec = Decimal.clone({ precision: 80, rounding: Decimal.ROUND_DOWN })

const wad = (x: Decimal): bigint => BigInt(x.mul(new Dec(10).pow(18)).floor().toFixed(0))

/**
 * Recomputes the emission law's fixed WAD constants from their definitions (floored), so the
 * literals in `EmissionController.sol` and `params.ts` can be checked against their meaning.
 */
export function computeConstants(): {
  alphaF: bigint
  alphaU: bigint
  baseDecay: bigint
  rMaxDecay: bigint
} {
  return {
    alphaF: wad(new Dec(1).minus(new Dec(2).pow(new Dec(-1).div(14)))),
    alphaU: wad(new Dec(1).minus(new Dec(2).pow(new Dec(-1).div(7)))),
    baseDecay: wad(new Dec(2).pow(new Dec(-1).div(540))),
    rMaxDecay: wad(new Dec('0.88').pow(new Dec(1).div(365))),
  }
}
