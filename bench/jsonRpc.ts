import { TesseraError } from '../protocol/errors.ts'

/** A JSON-RPC call of the bench failed (the node answered an error, or not JSON). Not retryable as is. */
export class BenchRpcError extends TesseraError {
  override name = 'BenchRpcError'
}

type Request = { method: string; params?: readonly unknown[] }
type Response = { id: number; result?: unknown; error?: { code: number; message: string } }

/**
 * A bare JSON-RPC client over fetch with batches: setting up thousands of transactions on anvil takes a few
 * hundred HTTP requests instead of thousands.
 */
export function jsonRpc(url: string) {
  let nextId = 0
  const post = async (body: unknown): Promise<unknown> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!res.ok) throw new BenchRpcError(`JSON-RPC request to ${url} failed with HTTP ${res.status}`, { details: await res.text() })
    return res.json()
  }
  const resultOf = (request: Request, response: Response): unknown => {
    if (response.error) throw new BenchRpcError(`${request.method} failed`, { details: JSON.stringify(response.error) })
    return response.result
  }
  return {
    /** One call; throws {@link BenchRpcError} on an error answer. */
    async call<T>(method: string, params: readonly unknown[] = []): Promise<T> {
      const request = { method, params }
      return resultOf(request, (await post({ jsonrpc: '2.0', id: ++nextId, ...request })) as Response) as T
    },
    /** Many calls, `size` per HTTP request, results in order; throws on the first error answer. */
    async batch<T>(requests: readonly Request[], size = 500): Promise<T[]> {
      const results: T[] = []
      for (let start = 0; start < requests.length; start += size) {
        const chunk = requests
          .slice(start, start + size)
          .map((r) => ({ jsonrpc: '2.0', id: ++nextId, method: r.method, params: r.params ?? [] }))
        const responses = (await post(chunk)) as Response[]
        const byId = new Map(responses.map((r) => [r.id, r]))
        for (const request of chunk) {
          const response = byId.get(request.id)
          if (!response) throw new BenchRpcError(`${request.method}: no answer in the batch`)
          results.push(resultOf(request, response) as T)
        }
      }
      return results
    },
  }
}

/** The client {@link jsonRpc} returns. */
export type JsonRpc = ReturnType<typeof jsonRpc>
