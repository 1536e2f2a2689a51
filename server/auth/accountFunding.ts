import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Address, PublicClient } from 'viem'
import { tesseraTokenAbi } from '../../contracts/generated/index.ts'
import type { Deployment } from '../../protocol/deployment.ts'
import { TesseraError } from '../../protocol/errors.ts'
import type { Database, Views } from '../db/database.ts'
import { gatewayBalanceOf, gatewayPartiesOf } from '../db/gateway.ts'

/** Whether an account is funded (see {@link createFundingCheck}). */
export type FundingCheck = (account: Address) => Promise<boolean>

/** No source of an account's funding answered. Retryable: the database or the chain may be back soon. */
export class FundingUnknownError extends TesseraError {
  override name = 'FundingUnknownError'
  constructor(account: Address, cause: unknown) {
    super(`cannot tell whether ${account} is funded right now`, { cause, retryable: true })
  }
}

/** How long an answer is kept, in ms: a funded account stays so a while; an unfunded one may fund itself any time. */
const fundedForMs = 60_000
const unfundedForMs = 5_000
const maxCached = 10_000

/**
 * "Funded" for the blob store: the account has stake in ProviderRegistry (indexed), TSR in its wallet (read from the
 * token with `publicClient`), or a balance at the job gateway (indexed deposits less what it spent). Any one is enough;
 * it is what uploads need, so an account's quota costs at least a token to open. Answers are cached per account
 * ({@link fundedForMs}, {@link unfundedForMs}). A source that fails is logged and skipped; when none answers and none
 * said yes, throws {@link FundingUnknownError}.
 */
export function createFundingCheck(parameters: {
  db: Kysely<Database>
  views: Views
  deployment: Deployment
  publicClient?: PublicClient
  log: Logger
}): FundingCheck {
  const { db, views, deployment, publicClient, log } = parameters
  const cache = new Map<string, { funded: boolean; until: number }>()
  const sources: [string, (account: Address) => Promise<boolean>][] = [
    [
      'stake',
      async (account) => {
        const row = await views.selectFrom('provider').select('stake').where('address', '=', account).executeTakeFirst()
        return row !== undefined && BigInt(row.stake) > 0n
      },
    ],
    ...(publicClient
      ? [
          [
            'wallet',
            async (account: Address) =>
              (await publicClient.readContract({
                address: deployment.contracts.TesseraToken.address,
                abi: tesseraTokenAbi,
                functionName: 'balanceOf',
                args: [account],
              })) > 0n,
          ] as [string, (account: Address) => Promise<boolean>],
        ]
      : []),
    ['gateway', async (account) => (await gatewayBalanceOf(db, views, gatewayPartiesOf(deployment), account)).balance > 0n],
  ]
  return async (address) => {
    const account = address.toLowerCase() as Address
    const hit = cache.get(account)
    if (hit && hit.until > Date.now()) return hit.funded
    let answered = false
    let lastError: unknown
    let funded = false
    for (const [source, check] of sources) {
      try {
        funded = await check(account)
        answered = true
        if (funded) break
      } catch (error) {
        lastError = error
        log.warn({ err: error, account, source }, 'funding check: a source failed')
      }
    }
    if (!answered) throw new FundingUnknownError(account, lastError)
    if (cache.size >= maxCached) cache.clear()
    cache.set(account, { funded, until: Date.now() + (funded ? fundedForMs : unfundedForMs) })
    return funded
  }
}
