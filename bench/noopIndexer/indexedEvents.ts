/**
 * Every event indexer/src handles, as `ponder.on` names them: the no-op app registers an empty handler for each, and
 * bench/indexer.ts checks the list against indexer/src (`handledEvents`) before it measures anything, as does
 * indexedEvents.test.ts.
 */
export const indexedEvents = [
  'ChallengeLedger:RoundCommitted',
  'ChallengeLedger:ChallengeRecorded',
  'ChallengeLedger:RoundRevealed',
  'EmissionController:EpochAdvanced',
  'EmissionController:RewardClaimed',
  'GatewayDeposits:Transfer',
  'GatewayPayouts:Transfer',
  'JobMarket:JobSubmitted',
  'JobMarket:JobAssigned',
  'JobMarket:SlotClaimed',
  'JobMarket:ResultCommitted',
  'JobMarket:JobCommitted',
  'JobMarket:ResultRevealed',
  'JobMarket:DisagreementProven',
  'JobMarket:JobRevealed',
  'JobMarket:JobFinalized',
  'JobMarket:JobDisputed',
  'JobMarket:Challenged',
  'JobMarket:AuditStarted',
  'JobMarket:AuditSettled',
  'JobMarket:SlotSettled',
  'JobMarket:ProviderPaid',
  'JobMarket:SlashShareCredited',
  'JobMarket:Refunded',
  'JobMarket:Withdrawn',
  'JobMarket:FeeBurned',
  'JobMarket:JobCancelled',
  'JobMarket:JobExpired',
  'JobMarket:NoShow',
  'JobMarket:AssignmentExpired',
  'ProviderRegistry:ProviderRegistered',
  'ProviderRegistry:ProviderUpdated',
  'ProviderRegistry:ProviderPaused',
  'ProviderRegistry:ProviderUnpaused',
  'ProviderRegistry:Staked',
  'ProviderRegistry:UnstakeRequested',
  'ProviderRegistry:Withdrawn',
  'ProviderRegistry:CollateralLocked',
  'ProviderRegistry:CollateralUnlocked',
  'ProviderRegistry:Slashed',
  'ProviderRegistry:StakeSlashed',
] as const

/** One of {@link indexedEvents}: `<contract in ponder.config.ts>:<event>`. */
export type IndexedEvent = (typeof indexedEvents)[number]
