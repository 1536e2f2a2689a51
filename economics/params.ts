/** Fixed-point one: every fraction in the emission law is a WAD. */
export const WAD = 10n ** 18n

/** One TSR in wei. */
export const TSR = 10n ** 18n

/**
 * The EmissionController's constructor `Params`, as viem passes the struct (all bigint).
 * Fractions are WAD, amounts TSR wei. Field order matches the Solidity struct.
 */
export type EmissionParams = {
  /** Seconds per epoch (devnet 30, production 86400). */
  epochLength: bigint
  /** κ, usage reward per unit of verified fee; must stay below the JobMarket take τ. Default 5 %. */
  kappa: bigint
  /** B0, the base availability budget of epoch 0. Default 10,000 TSR (genesis supply 100M TSR, cap ≈ 21,918 TSR/epoch). */
  baseAvailability0: bigint
  /** φ at genesis. Default 1. */
  phi0: bigint
  /** Floor of φ. Default 0.5. */
  phiMin: bigint
  /** δφ, relative decrease of φ in one epoch. Default 1 %. */
  phiStep: bigint
  /** U*, the target utilisation. Default 0.65. */
  targetUtilisation: bigint
  /** db: φ falls only while Ū < U* − db. Default 0.05. */
  deadband: bigint
  /** Most the emission budget rises per epoch, relative to the previous one. Default 2 %. */
  maxStepUp: bigint
  /** Most the emission budget falls per epoch, relative to the previous one. Default 1.5 %. */
  maxStepDown: bigint
  /** Most of an epoch's availability pool one provider earns; the excess is forfeited. Default 25 %. */
  maxProviderShare: bigint
  /** r_max(0), the annual dilution cap at epoch 0; decays 12 % a year. Default 8 %. */
  rMax0: bigint
}

/** Defaults of every parameter except `epochLength`. */
export const defaultEmissionParams = {
  kappa: (5n * WAD) / 100n,
  baseAvailability0: 10_000n * TSR,
  phi0: WAD,
  phiMin: WAD / 2n,
  phiStep: WAD / 100n,
  targetUtilisation: (65n * WAD) / 100n,
  deadband: (5n * WAD) / 100n,
  maxStepUp: (2n * WAD) / 100n,
  maxStepDown: (15n * WAD) / 1000n,
  maxProviderShare: WAD / 4n,
  rMax0: (8n * WAD) / 100n,
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
/** Most epochs one `advanceEpoch` call closes. */
export const MAX_EPOCHS_PER_CALL = 64n
