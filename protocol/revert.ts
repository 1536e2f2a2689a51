import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Hex } from 'viem'
import { contractAbis } from './abis.ts'

/** Every custom error of Tessera's contracts, so a revert bubbling up from any of them decodes by name. */
export const allErrorsAbi = Object.values(contractAbis)
  .flat()
  .filter((item) => item.type === 'error')

/** A contract revert: the custom error's name and its decoded arguments. */
export type Revert = { errorName: string; args: readonly unknown[] }

/**
 * The custom error behind a viem error, or undefined when it isn't a revert. Decodes errors of any Tessera
 * contract (a token error inside `submitJob`'s `transferFrom`, say), even when the call's own ABI lacks them.
 * A revert without a custom error (a `require` string, a panic) comes back as its reason, with no arguments.
 */
export function decodeRevert(error: unknown): Revert | undefined {
  if (!(error instanceof BaseError)) return undefined
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null
  if (reverted?.data) return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] }
  const raw = reverted?.raw ?? findRevertData(error)
  const decoded = raw && decodeRevertData(raw)
  if (decoded) return decoded
  return reverted ? { errorName: reverted.reason ?? 'Reverted', args: [] } : undefined
}

/** A Tessera contract's custom error from raw revert data (a batch call's `reason`, say), or undefined. */
export function decodeRevertData(data: Hex): Revert | undefined {
  try {
    const decoded = decodeErrorResult({ abi: allErrorsAbi, data })
    return { errorName: decoded.errorName, args: decoded.args ?? [] }
  } catch {
    return undefined
  }
}

/** `Name(arg, …)` of a revert, for messages and logs. */
export function formatRevert(revert: Revert): string {
  return `${revert.errorName}(${revert.args.map(String).join(', ')})`
}

function findRevertData(error: BaseError): Hex | undefined {
  let found: Hex | undefined
  error.walk((e) => {
    const data = (e as { data?: unknown }).data
    if (typeof data === 'string' && data.startsWith('0x') && data.length >= 10) found = data as Hex
    return false
  })
  return found
}
