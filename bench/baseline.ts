/**
 * What this bench measured before per-provider rewards became pull-based against per-epoch totals: the same
 * scripts run against the contracts of commit 7371634 (EmissionController's close looped over its paid providers,
 * ≈ 5,170 gas each; advanceEpoch() closed up to 64 epochs with no caller bound). Kept as numbers because that
 * contract is gone; gas is deterministic, so they compare with a fresh run row for row.
 */
export const baseline = {
  commit: '7371634',
  /** Gas by `contract.call (note)`, as `GasRow` keys them. */
  rows: {
    'ProviderRegistry.register (provider 1)': 148_831n,
    'ProviderRegistry.stake (provider 1)': 134_541n,
    'ProviderRegistry.register (provider 2)': 148_831n,
    'ProviderRegistry.stake (provider 2)': 100_341n,
    'JobMarket.submitJob (k=2)': 237_313n,
    'JobMarket.assign (k=2 (locks 2 collaterals))': 417_682n,
    'JobMarket.commitResult (first of 2)': 77_378n,
    'JobMarket.commitResult (last of 2 (opens the reveal window))': 70_047n,
    'JobMarket.revealResult (first of 2)': 124_918n,
    'JobMarket.revealResult (last of 2)': 111_991n,
    'JobMarket.finalize (k=2 completed (pays, burns the take, 2 recordJob))': 457_012n,
    'JobMarket.withdraw (provider 1)': 41_018n,
    'JobMarket.withdraw (provider 2)': 41_018n,
    'JobMarket.withdraw (requester (escrow above the asks))': 38_895n,
    'EmissionController.advanceEpoch (closes the job’s epoch (2 paid providers))': 211_772n,
    'EmissionController.claim (provider 1)': 62_109n,
    'EmissionController.claim (provider 2)': 62_109n,
  } as Record<string, bigint>,
  /** The k=2 lifecycle total of these scripts (approve and funding transfers excluded). */
  lifecycleTotal: 2_485_806n,
  /** The lifecycle total the issue reported, from a script of its own that this bench doesn't reproduce. */
  issueLifecycleTotal: 1_189_208n,
  /** advanceEpoch closing one epoch, by paid providers; undefined: ran out of gas within a 30M-gas block. */
  advanceByPaidProviders: { 1: 206_605n, 100: 718_138n, 10000: undefined } as Record<number, bigint | undefined>,
  /** Catch-up calls by case (the bounded form didn't exist: only `advanceEpoch()`, 64 epochs a call). */
  catchUp: {
    'outage of empty epochs, advanceEpoch() (default bound 64)': 926_507n,
    '64 epochs, each with 1 paid provider, advanceEpoch(64)': 4_279_843n,
  } as Record<string, bigint>,
  /** recordJob by case. */
  recordJob: {
    'first job of provider 1 in the epoch': 210_770n,
    'first job of provider 2 in the epoch': 142_406n,
    'first job of provider 3 in the epoch': 142_418n,
    'first job of provider 4 in the epoch': 142_370n,
    'first job of provider 5 in the epoch': 142_370n,
    'first job of provider 6 in the epoch': 142_358n,
    'a later job of a provider already paid in the epoch': 44_069n,
  } as Record<string, bigint>,
}
