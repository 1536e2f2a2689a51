import { TesseraError } from '../protocol/errors.ts'

/** A setting is missing, malformed, or at odds with the running replicas'. Not retryable: fix the configuration. */
export class ServerConfigError extends TesseraError {
  override name = 'ServerConfigError'
}
