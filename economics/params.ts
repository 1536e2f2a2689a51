import type { EmissionParams } from '../protocol/emissionParams.ts'
import { TSR, WAD } from '../protocol/units.ts'

/** Defaults of every parameter except `epochLength`. */
const defaultEmissionParams = {
  kappa: (3n * WAD) / 100n,
  baseAvailability0: 6_000n * TSR,
  phi0: WAD,
  phiMin: WAD,
  phiStep: WAD / 100n,
  targetUtilisation: (65n * WAD) / 100n,
  deadband: (5n * WAD) / 100n,
  maxStepUp: (2n * WAD) / 100n,
  maxStepDown: (15n * WAD) / 1000n,
  maxProviderShare: WAD / 4n,
  rMax0: (8n * WAD) / 100n,
  stakePerUnit: TSR / 10n,
} as const satisfies Omit<EmissionParams, 'epochLength'>

/**
 * The EmissionController's `Params` for a deployment: the defaults, with `epochLength` and any
 * overrides. Pass the result as the constructor's last argument.
 */
export function emissionParams({
  epochLength,
  ...overrides
}: { epochLength: bigint } & Partial<Omit<EmissionParams, 'epochLength'>>): EmissionParams {
  return { epochLength, ...defaultEmissionParams, ...overrides }
}

/**
 * The law's fixed constants, the same literals as in `EmissionController.sol`. Each is the exact
 * real value floored to WAD, computed with decimal.js at 80 significant digits
 * (`economics/constants.ts` recomputes and a unit test checks them).
 */
export const ALPHA_F_WAD = 48304846989380390n // 1 − 2^(−1/14): fee EMA, 14-epoch half-life
export const ALPHA_U_WAD = 94276335736093328n // 1 − 2^(−1/7): utilisation EMA, 7-epoch half-life
export const BASE_DECAY_WAD = 998717217579739978n // 2^(−1/540): B_k half-life T_B = 540 epochs
export const R_MAX_DECAY_WAD = 999649832907716589n // 0.88^(1/365): r_max falls 12 % a year
/** Epochs per year for the cap: the law counts in epochs, one epoch is one economic day. */
export const EPOCHS_PER_YEAR = 365n
/** Most epochs `advanceEpoch()` closes; `advanceEpoch(maxEpochs)` takes the bound from the caller. */
export const DEFAULT_MAX_EPOCHS = 64n
/** Smallest `maxProviderShare` the contract accepts (1/16): it bounds the capped set `recordChallenge` keeps. */
export const MIN_PROVIDER_SHARE = WAD / 16n
