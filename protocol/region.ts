import { type Hex, isHex, stringToHex } from 'viem'
import { TesseraError } from './errors.ts'

/** A region label that doesn't fit the registry's bytes32. Not retryable. */
export class InvalidRegionError extends TesseraError {
  override name = 'InvalidRegionError'
}

/** The region of a provider that named none: 32 zero bytes. */
export const noRegion: Hex = `0x${'00'.repeat(32)}`

/**
 * A region as the registry stores it (bytes32, lower-case hex): a 0x-prefixed 32-byte value as is, otherwise the
 * UTF-8 label right-padded with zeros (`eu` → `0x6575…00`); no label is {@link noRegion}.
 */
export function encodeRegion(region: string | undefined): Hex {
  if (!region) return noRegion
  if (isHex(region) && region.length === 66) return region.toLowerCase() as Hex
  if (new TextEncoder().encode(region).length > 32) throw new InvalidRegionError(`region "${region}" is longer than 32 bytes`)
  return stringToHex(region, { size: 32 })
}
