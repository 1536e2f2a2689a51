import type { DocumentNode } from 'graphql'

const documentIds = new WeakMap<DocumentNode, number>()
let nextDocumentId = 0

/**
 * A string naming an operation: its document (Yoga caches one parsed document per query text, so equal queries share
 * an object, numbered here), operation name and variables. Equal keys mean the same operation, whoever sent it.
 */
export function operationKey(args: { document: DocumentNode; operationName?: string | null; variableValues?: unknown }): string {
  let id = documentIds.get(args.document)
  if (id === undefined) {
    id = nextDocumentId++
    documentIds.set(args.document, id)
  }
  return `${id}|${args.operationName ?? ''}|${JSON.stringify(args.variableValues ?? {})}`
}
