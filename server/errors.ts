/**
 * An error caused by the client's input (bad cursor, page too large, …). Its message is safe to
 * show: the error-masking plugin passes it through with code BAD_USER_INPUT. Not retryable as-is.
 */
export class UserInputError extends Error {
  override name = 'UserInputError'
  readonly expose = true
}

export function isUserInputError(error: unknown): error is UserInputError {
  return error instanceof Error && (error as { expose?: unknown }).expose === true
}
