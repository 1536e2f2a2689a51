/** Fixed-point one: every fraction of the emission law is a WAD. */
export const WAD = 10n ** 18n

/** One TSR in wei (18 decimals). */
export const TSR = 10n ** 18n

/** Basis-point denominator: 10 000 bps = 100 %, as the contracts' `BPS`. */
export const BPS = 10_000n
