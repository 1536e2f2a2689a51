import type { Plugin } from '@envelop/core'
import {
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql'
import { operationKey } from './operationKey.ts'

/** Root fields whose answers come from the indexed chain data alone. */
export const indexedRootFields = ['job', 'jobs', 'provider', 'providers', 'epochs', 'emissionsVsUsage', 'challengeRounds'] as const

/**
 * Fields that read the server's own tables or its clock (heartbeats), or the chain itself (what a provider can withdraw
 * or claim now): an operation selecting one is never cached.
 */
export const liveFields = [
  'Provider.lastHeartbeatAt',
  'Provider.live',
  'Provider.warmModels',
  'Provider.owed',
  'Provider.claimable',
  'Provider.claimableRewards',
] as const

/** Entries kept at most (least recently used dropped first). */
const defaultMaxEntries = 2000
/** An entry's longest life, whatever the head does (see below). */
const defaultMaxAgeMs = 1000

type Entry = { head: bigint; at: number; result: ExecutionResult }

/**
 * Answers a query from the indexed data again without running it while the indexed head hasn't moved: results are
 * kept by operation (document, operation name, variables) with the head they were computed at, and an entry is served
 * only while `head()` still returns that head, and for `maxAgeMs` (1 s) at most. So a cached answer is at most one head
 * read old (the server's watcher reads it every 50 ms); anything the indexer writes invalidates everything at once. The
 * age bound caps staleness the head can't see: an answer read while the watcher's head lags the rows (or the rows lag
 * Ponder's checkpoint) is kept under a head that then stays put on a quiet chain. A clean-clone test run saw a job's
 * status stay stale for a minute with the head check alone; whatever the cause, an answer now lives 1 s at most.
 *
 * Only queries whose root fields are all {@link indexedRootFields} and that select none of {@link liveFields} are
 * cached; mutations, subscriptions, `_meta`, `marketStats`, `quote`, `checkJob`, `account` and the gateway's fields always run.
 * Results with errors are not kept.
 */
export function useIndexedResponseCache(options: { head: () => bigint | undefined; maxEntries?: number; maxAgeMs?: number }): Plugin {
  const maxEntries = options.maxEntries ?? defaultMaxEntries
  const maxAgeMs = options.maxAgeMs ?? defaultMaxAgeMs
  const entries = new Map<string, Entry>()
  const cacheable = new WeakMap<DocumentNode, boolean>()
  const roots = new Set<string>(indexedRootFields)
  const live = new Set<string>(liveFields)

  function isCacheable(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): boolean {
    let known = cacheable.get(document)
    if (known !== undefined) return known
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
    const operation = operations.length === 1 ? operations[0] : operations.find((o) => o.name?.value === operationName)
    known =
      operation?.operation === 'query' &&
      operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && (s.name.value === '__typename' || roots.has(s.name.value)))
    if (known) {
      const typeInfo = new TypeInfo(schema)
      visit(
        document,
        visitWithTypeInfo(typeInfo, {
          Field(node) {
            const parent = typeInfo.getParentType()
            if (parent && isObjectType(getNamedType(parent)) && live.has(`${parent.name}.${node.name.value}`)) known = false
          },
        }),
      )
    }
    cacheable.set(document, known)
    return known
  }

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const head = options.head()
      if (head === undefined || !isCacheable(args.schema, args.document, args.operationName)) return
      const key = operationKey(args)
      const hit = entries.get(key)
      const now = performance.now()
      if (hit && hit.head === head && now - hit.at <= maxAgeMs) {
        // Most recently used last.
        entries.delete(key)
        entries.set(key, hit)
        setResultAndStopExecution(hit.result)
        return
      }
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in result || result.errors?.length) return
          entries.delete(key)
          entries.set(key, { head, at: now, result })
          if (entries.size > maxEntries) {
            const oldest = entries.keys().next().value
            if (oldest !== undefined) entries.delete(oldest)
          }
        },
      }
    },
  }
}
