import { TesseraError } from '../protocol/errors.ts'
import type { BlobSigner } from './blobAuth.ts'
import { signIn } from './signIn.ts'

/** Signed in again this long before a session ends, in seconds. */
const renewBeforeSeconds = 600
/** After a failed sign-in, requests are signed one by one for this long before the next try, in milliseconds. */
const retrySignInAfterMs = 60_000

type Session = { token: string; expiresAt: bigint }

/**
 * A SIWE session that keeps itself: signs in (`signIn`) on the first request, again a little before the session ends,
 * and again when the server no longer knows its token (`refused`, after a 401: the server's sessions were cleared, or
 * the session was signed out). Blob requests then carry `Authorization: Bearer <token>`, so neither side signs or
 * recovers a signature per request, which is what an agent fetching an input and uploading an output for every
 * assignment would otherwise do. Concurrent requests share one sign-in. While no session can be had (the sign-in
 * failed: the server is busy, or serves no sessions), requests are signed one by one by the account, as without a
 * session, and the sign-in is tried again a minute later: a job's blobs never wait on a sign-in.
 */
export class BlobSession {
  private current: Promise<Session> | undefined
  /** When the last sign-in failed (ms since the epoch). */
  private failedAt: number | undefined

  constructor(
    readonly parameters: {
      serverUrl: string
      account: BlobSigner
      /** The deployment's chain id (`fetchDeployment`). */
      chainId: number
      /** Hears each sign-in that failed (the requests meanwhile are signed one by one). */
      onSignInFailed?: (error: BlobSessionError) => void
      /** Milliseconds since the epoch (default `Date.now`). */
      now?: () => number
      signal?: AbortSignal
    },
  ) {}

  /**
   * The session's token, signing in first when there is none or it ends within ten minutes; undefined while no session
   * can be had (a sign-in failed in the last minute): the request is then signed by the account.
   */
  async token(): Promise<string | undefined> {
    const nowMs = (this.parameters.now ?? Date.now)()
    const pending = this.current
    const held = pending && (await pending.catch(() => undefined))
    if (held && held.expiresAt - BigInt(Math.floor(nowMs / 1000)) > BigInt(renewBeforeSeconds)) return held.token
    // Unless a request that waited beside this one has already started the next sign-in.
    if (this.current === pending || this.current === undefined) {
      if (this.failedAt !== undefined && nowMs - this.failedAt < retrySignInAfterMs) return undefined
      this.current = this.signIn()
    }
    const session = await this.current.catch(() => undefined)
    return session?.token
  }

  /** The server answered 401 to `token`: the next request signs in again (unless another already has). */
  refused(token: string): void {
    const current = this.current
    if (!current) return
    void current.then(
      (session) => {
        if (session.token === token && this.current === current) this.current = undefined
      },
      () => {},
    )
  }

  private signIn(): Promise<Session> {
    const { serverUrl, account, chainId, now, signal } = this.parameters
    const started = signIn({ serverUrl, account, chainId, now, signal }).then(
      (session) => {
        this.failedAt = undefined
        return session
      },
      (error: unknown) => {
        this.failedAt = (now ?? Date.now)()
        if (this.current === started) this.current = undefined
        const failure = new BlobSessionError(`signing in to ${serverUrl} as ${account.address} failed`, { cause: error })
        this.parameters.onSignInFailed?.(failure)
        throw failure
      },
    )
    return started
  }
}

/** Signing in for a {@link BlobSession} failed: its requests are signed one by one meanwhile. */
export class BlobSessionError extends TesseraError {
  override name = 'BlobSessionError'
}
