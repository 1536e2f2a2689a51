import { type Address, getAddress, type Hex, isAddressEqual, type PublicClient, recoverMessageAddress, size } from 'viem'

/**
 * Whether `signature` is `address`'s EIP-191 signature of `message`. An externally owned account's is checked here
 * (ecrecover); with `publicClient`, a contract account's through the chain too: EIP-1271 for a deployed wallet, EIP-6492
 * for one not yet deployed (viem's `verifyMessage`). A 65-byte signature that doesn't recover to `address` goes to the
 * chain only when `address` has code, so a bad EOA signature costs no contract call.
 */
export async function verifyAccountSignature(parameters: {
  address: Address
  message: string
  signature: Hex
  publicClient?: PublicClient
}): Promise<boolean> {
  const { address, message, signature, publicClient } = parameters
  try {
    if (isAddressEqual(await recoverMessageAddress({ message, signature }), getAddress(address))) return true
  } catch {}
  if (!publicClient) return false
  try {
    if (size(signature) === 65 && !(await publicClient.getCode({ address }))) return false
    return await publicClient.verifyMessage({ address, message, signature })
  } catch {
    return false
  }
}
