import { graphql } from '../graphql/tada.ts'

/**
 * What a page asks of a `prepare*` mutation's transactions: everything `Wallet.send` needs to sign them and a person
 * to see what they sign. Spread it as `...PreparedTransactionFields` with this fragment beside the document.
 */
export const PreparedTransactionFields = graphql(`
  fragment PreparedTransactionFields on PreparedTransaction {
    from
    to
    data
    value
    gas
    chainId
    description
    functionName
  }
`)
