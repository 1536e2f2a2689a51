import type { Address } from 'viem'
import { createSiweMessage } from 'viem/siwe'
import { heartbeatDomain } from '../protocol/heartbeat.ts'
import type { BlobSigner } from './blobAuth.ts'
import { graphqlRequest } from './serverClient.ts'

export type SignInParameters = {
  serverUrl: string
  account: BlobSigner
  /** The deployment's chain id (`fetchDeployment`). */
  chainId: number
  /** Ends the session sooner than the server's limit (a day), in seconds from now. */
  expiresInSeconds?: number
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number
  signal?: AbortSignal
}

/** A session: its bearer token (a secret), the account and when it ends (unix s). */
export type SignInReturnType = { token: string; address: Address; expiresAt: bigint }

/**
 * Signs in with Ethereum (EIP-4361, viem's `createSiweMessage`): asks the server for a nonce, signs a message for the
 * host of `serverUrl` (as heartbeats and signed blob requests name it) and `chainId`, and returns the session, whose
 * token goes in `BlobCredentials` or as `Authorization: Bearer <token>`.
 */
export async function signIn(parameters: SignInParameters): Promise<SignInReturnType> {
  const { serverUrl, account, chainId, signal } = parameters
  const { siweNonce: nonce } = await graphqlRequest<{ siweNonce: string }>({ serverUrl, query: 'mutation { siweNonce }', signal })
  const now = (parameters.now ?? Date.now)()
  const message = createSiweMessage({
    domain: heartbeatDomain(serverUrl),
    address: account.address,
    statement: 'Sign in to Tessera.',
    uri: new URL(serverUrl).origin,
    version: '1',
    chainId,
    nonce,
    issuedAt: new Date(now),
    ...(parameters.expiresInSeconds === undefined ? {} : { expirationTime: new Date(now + parameters.expiresInSeconds * 1000) }),
  })
  const signature = await account.signMessage({ message })
  const { signIn: session } = await graphqlRequest<{ signIn: { token: string; address: Address; expiresAt: string } }>({
    serverUrl,
    query: 'mutation ($m: String!, $s: String!) { signIn(message: $m, signature: $s) { token address expiresAt } }',
    variables: { m: message, s: signature },
    signal,
  })
  return { ...session, expiresAt: BigInt(session.expiresAt) }
}

/** Ends the session of `token`; whether there was one. */
export async function signOut(parameters: { serverUrl: string; token: string; signal?: AbortSignal }): Promise<boolean> {
  const data = await graphqlRequest<{ signOut: boolean }>({
    serverUrl: parameters.serverUrl,
    query: 'mutation { signOut }',
    headers: { authorization: `Bearer ${parameters.token}` },
    signal: parameters.signal,
  })
  return data.signOut
}
