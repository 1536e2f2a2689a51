/**
 * The EmissionController's constructor `Params`, as viem passes the struct (all bigint). Fractions are WAD, amounts
 * TSR wei. Field order matches the Solidity struct. Defaults and the law itself live in `economics/`.
 */
export type EmissionParams = {
  /** Seconds per epoch (devnet 30, production 86400). */
  epochLength: bigint
  /** κ, usage reward per unit of verified fee; must stay below the JobMarket take τ. */
  kappa: bigint
  /** B0, the base availability budget of epoch 0. */
  baseAvailability0: bigint
  /** φ at genesis. */
  phi0: bigint
  /** Floor of φ. */
  phiMin: bigint
  /** δφ, relative decrease of φ in one epoch. */
  phiStep: bigint
  /** U*, the target utilisation. */
  targetUtilisation: bigint
  /** db: φ falls only while Ū < U* − db. */
  deadband: bigint
  /** Most the emission budget rises per epoch, relative to the previous one. */
  maxStepUp: bigint
  /** Most the emission budget falls per epoch, relative to the previous one. */
  maxStepDown: bigint
  /** Most of an epoch's availability pool one provider earns; the excess is forfeited. At least 1/16: the contract reverts `InvalidParam(10)` below. */
  maxProviderShare: bigint
  /** r_max(0), the annual dilution cap at epoch 0. */
  rMax0: bigint
  /**
   * Stake at risk (TSR wei) backing one unit of attested capacity per epoch in the availability weight
   * `min(attested capacity, stakeAtRisk / stakePerUnit)`; 0: stake doesn't bound the weight.
   */
  stakePerUnit: bigint
}

/** The fields of {@link EmissionParams} in the Solidity struct's order. */
export const emissionParamKeys = [
  'epochLength',
  'kappa',
  'baseAvailability0',
  'phi0',
  'phiMin',
  'phiStep',
  'targetUtilisation',
  'deadband',
  'maxStepUp',
  'maxStepDown',
  'maxProviderShare',
  'rMax0',
  'stakePerUnit',
] as const satisfies readonly (keyof EmissionParams)[]
