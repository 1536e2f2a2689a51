import { TesseraError, type TesseraErrorParameters } from '../protocol/errors.ts'

/**
 * An error caused by the client's input (bad cursor, page too large, a heartbeat signed wrong, …). Its message is
 * safe to show: the error-masking plugin passes it through with its `code` in `extensions`. Not retryable as-is.
 */
export class UserInputError extends TesseraError {
  override name = 'UserInputError'
  /** The GraphQL error code clients see (`extensions.code`): `BAD_USER_INPUT` unless the thrower says otherwise. */
  readonly code: string

  constructor(shortMessage: string, parameters: TesseraErrorParameters & { code?: string } = {}) {
    super(shortMessage, parameters)
    this.code = parameters.code ?? 'BAD_USER_INPUT'
  }
}
