/** A token bucket per key: what a client may spend, earned back over time. */
export type TokenBuckets = {
  /**
   * Spends `cost` from `key`'s bucket when it holds enough (a cost over `burst` needs a full bucket, and leaves the
   * key in debt for the rest): undefined then, else the whole seconds to wait before it would.
   */
  take(key: string, cost: number): number | undefined
  /** Spends `cost` from `key`'s bucket whatever it holds (what was spent before its size was known). */
  debit(key: string, cost: number): void
}

/**
 * Buckets that earn `perSecond`, hold at most `burst` (full when first seen), for the `maxKeys` keys seen most recently
 * (the one seen longest ago is forgotten first, so a flood of new keys costs bounded memory). `now` in milliseconds.
 */
export function createTokenBuckets(parameters: { perSecond: number; burst: number; maxKeys?: number; now?: () => number }): TokenBuckets {
  const { perSecond, burst } = parameters
  const maxKeys = parameters.maxKeys ?? 10_000
  const now = parameters.now ?? (() => performance.now())
  // In insertion order, refreshed on every use: the first is the key seen longest ago.
  const buckets = new Map<string, { tokens: number; at: number }>()

  const refilled = (key: string) => {
    const t = now()
    const bucket = buckets.get(key) ?? { tokens: burst, at: t }
    buckets.delete(key)
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond)
    bucket.at = t
    buckets.set(key, bucket)
    if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string)
    return bucket
  }

  return {
    take(key, cost) {
      const bucket = refilled(key)
      const needed = Math.min(cost, burst)
      if (bucket.tokens >= needed) {
        bucket.tokens -= cost
        return undefined
      }
      return Math.max(1, Math.ceil((needed - bucket.tokens) / perSecond))
    },
    debit(key, cost) {
      refilled(key).tokens -= cost
    },
  }
}
