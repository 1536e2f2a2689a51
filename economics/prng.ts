/**
 * splitmix32: a small seeded generator (test cases, the simulator), the same on every machine. `big` draws
 * uniformly enough in any range up to 256 bits; `pick` draws an element.
 */
export function prng(seed: number) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const big = (lo: bigint, hi: bigint) => {
    let x = 0n
    for (let i = 0; i < 9; i++) x = (x << 32n) | BigInt(Math.floor(next() * 2 ** 32))
    return lo + (x % (hi - lo + 1n))
  }
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T
  return { next, int, big, pick }
}

/** A generator from {@link prng}. */
export type Prng = ReturnType<typeof prng>
