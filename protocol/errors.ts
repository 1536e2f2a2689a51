export type TesseraErrorParameters = {
  /** What exactly was wrong, for logs and `--log-level debug` (a revert's arguments, a server's answer). */
  details?: string
  /** Hints that help a person act on the error. */
  metaMessages?: string[]
  cause?: unknown
  /** Whether the same call, unchanged, may succeed later (a network error, a 5xx, a node catching up). Default false. */
  retryable?: boolean
}

/**
 * The base of every Tessera error, in viem's shape: `shortMessage` for humans (also the `message`), `details` and
 * `metaMessages` for whoever debugs it, `cause` for the error underneath, and `retryable`. Subclasses set a stable
 * `name`. Log one through pino's `err` key (`log.warn({ err: error }, …)`) so its stack and fields survive.
 */
export class TesseraError extends Error {
  override name = 'TesseraError'
  readonly shortMessage: string
  readonly details?: string
  readonly metaMessages?: string[]
  readonly retryable: boolean

  constructor(shortMessage: string, parameters: TesseraErrorParameters = {}) {
    super(shortMessage, parameters.cause === undefined ? undefined : { cause: parameters.cause })
    this.shortMessage = shortMessage
    this.details = parameters.details
    this.metaMessages = parameters.metaMessages
    this.retryable = parameters.retryable ?? false
  }
}

/**
 * Whether retrying `error` unchanged may help: a `TesseraError` says so itself; anything else (a network failure
 * inside fetch or viem, a crashed worker) is presumed transient.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof TesseraError ? error.retryable : true
}
