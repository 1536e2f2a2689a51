import { TesseraError } from '../protocol/errors.ts'

/**
 * A part of the devnet (anvil, embedded Postgres, a port it needs) could not start. Not retryable as is: the message
 * says what to change.
 */
export class DevnetError extends TesseraError {
  override name = 'DevnetError'
}
