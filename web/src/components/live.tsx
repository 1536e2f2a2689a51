import { createContext, type ReactNode, useContext, useEffect, useRef } from 'react'
import { type AnyVariables, type DocumentInput, type UseQueryResponse, useQuery, useSubscription } from 'urql'
import { graphql } from '../graphql/tada.ts'

const IndexerHeadSubscription = graphql(`
  subscription IndexerHead {
    indexerHead {
      block
      blockTimestamp
    }
  }
`)

const MetaQuery = graphql(`
  query Meta {
    _meta {
      block
      blockTimestamp
      chainHead
      chainId
      lagBlocks
    }
  }
`)

/** The indexer's head as the `indexerHead` subscription last told it; undefined until the first event. */
export type Head = { block: bigint; blockTimestamp: bigint }

const HeadContext = createContext<Head | undefined>(undefined)

/** One `indexerHead` subscription for the whole page; every live view reads the head from it. */
export function HeadProvider({ children }: { children: ReactNode }) {
  const [result] = useSubscription({ query: IndexerHeadSubscription })
  const data = result.data?.indexerHead
  const head = data ? { block: BigInt(data.block), blockTimestamp: BigInt(data.blockTimestamp) } : undefined
  return <HeadContext.Provider value={head}>{children}</HeadContext.Provider>
}

/** The indexed head block, live. */
export function useHead(): Head | undefined {
  return useContext(HeadContext)
}

/**
 * `useQuery` that reads again from the network each time the indexed head moves, at most once per `minIntervalMs` (a
 * devnet makes blocks four times a second; a person reads a page far slower). The server's response cache answers
 * repeats within one block from memory.
 */
export function useLiveQuery<Data, Variables extends AnyVariables>(
  args: { query: DocumentInput<Data, Variables>; variables?: Variables; pause?: boolean },
  minIntervalMs = 1_000,
): UseQueryResponse<Data, Variables> {
  const response = useQuery<Data, Variables>(args as Parameters<typeof useQuery<Data, Variables>>[0])
  const [, reexecute] = response
  const block = useHead()?.block
  const last = useRef(0)
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  useEffect(() => {
    if (block === undefined || args.pause) return
    const wait = last.current + minIntervalMs - Date.now()
    const run = () => {
      last.current = Date.now()
      pending.current = undefined
      reexecute({ requestPolicy: 'network-only' })
    }
    if (wait <= 0) run()
    else pending.current ??= setTimeout(run, wait)
  }, [block, args.pause, minIntervalMs, reexecute])
  useEffect(() => () => clearTimeout(pending.current), [])
  return response
}

/** The header's indicator: the indexed block, how far behind the chain it is, and whether the live feed is up. */
export function IndexerStatus() {
  const head = useHead()
  const [meta] = useLiveQuery({ query: MetaQuery }, 2_000)
  const m = meta.data?._meta
  const lag = m?.lagBlocks
  return (
    <p className="indexer-status" aria-live="polite" data-testid="indexer-status">
      {head ? (
        <>
          <span className="live-dot" aria-hidden="true" /> Indexed block <strong>{head.block.toString()}</strong>
          {lag !== undefined && lag !== null ? (
            <>
              {' '}
              · lag {lag} {lag === 1 ? 'block' : 'blocks'}
            </>
          ) : null}
        </>
      ) : (
        'Connecting to the live feed…'
      )}
    </p>
  )
}
