import type { Hex } from 'viem'
import type { VerificationName } from '../protocol/enums.ts'
import { graphqlRequest } from './serverClient.ts'

/** What a job would cost in one verification mode (GraphQL `QuoteMode`); amounts in wei, null where nothing fits. */
export type ModeQuote = {
  reason: 'OK' | 'MAX_PRICE_TOO_LOW' | 'TOO_FEW_LIVE_PROVIDERS' | 'NOT_ENOUGH_PROVIDERS'
  providers: number
  eligibleProviders: number
  pricePerUnit: bigint | null
  fees: bigint | null
  escrow: bigint
  cost: bigint | null
}

/** The server's quote of a job in both verification modes, and whether its model and input can run. */
export type JobQuote = {
  redundant: ModeQuote
  optimistic: ModeQuote
  /** Null unless the spec named a model and an input; otherwise whether they can run and what is wrong. */
  check: { runnable: boolean; problems: string[] } | null
}

export type QuoteJobParameters = {
  serverUrl: string
  units: bigint
  maxPricePerUnit: bigint
  /** k for the redundant quote (2 to 16; default 2); the optimistic one always runs once. */
  redundancy?: number
  /** The model's and input's sha256, uploaded already: the quote then says whether the job can run. */
  modelHash?: Hex
  inputHash?: Hex
  signal?: AbortSignal
}

const modeFields = 'reason providers eligibleProviders pricePerUnit fees escrow cost'
const quoteQuery = /* GraphQL */ `
  query Quote($spec: QuoteInput!) {
    quote(spec: $spec) {
      redundant { ${modeFields} }
      optimistic { ${modeFields} }
      check { runnable problems { message } }
    }
  }`

type RawMode = Omit<ModeQuote, 'pricePerUnit' | 'fees' | 'escrow' | 'cost'> &
  Record<'pricePerUnit' | 'fees' | 'cost', string | null> & {
    escrow: string
  }

const modeOf = (raw: RawMode): ModeQuote => ({
  ...raw,
  pricePerUnit: raw.pricePerUnit === null ? null : BigInt(raw.pricePerUnit),
  fees: raw.fees === null ? null : BigInt(raw.fees),
  escrow: BigInt(raw.escrow),
  cost: raw.cost === null ? null : BigInt(raw.cost),
})

/**
 * Asks the server (`quote`) what a job of `units` units at up to `maxPricePerUnit` would cost run redundant (k
 * providers that must agree) and optimistic (one provider, spot-checked), and whether the matcher could place it now.
 */
export async function quoteJob(parameters: QuoteJobParameters): Promise<JobQuote> {
  const verification: VerificationName = 'REDUNDANT'
  const spec = {
    units: parameters.units.toString(),
    maxPricePerUnit: parameters.maxPricePerUnit.toString(),
    redundancy: parameters.redundancy ?? 2,
    verification,
    ...(parameters.modelHash && parameters.inputHash ? { modelHash: parameters.modelHash, inputHash: parameters.inputHash } : {}),
  }
  const data = await graphqlRequest<{
    quote: { redundant: RawMode; optimistic: RawMode; check: { runnable: boolean; problems: { message: string }[] } | null }
  }>({ serverUrl: parameters.serverUrl, query: quoteQuery, variables: { spec }, signal: parameters.signal })
  const { redundant, optimistic, check } = data.quote
  return {
    redundant: modeOf(redundant),
    optimistic: modeOf(optimistic),
    check: check && { runnable: check.runnable, problems: check.problems.map((p) => p.message) },
  }
}
