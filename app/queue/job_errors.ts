import { UnrecoverableError } from 'bullmq'
import { TenantNotFoundException } from '#exceptions/tenancy'

/**
 * Sorts a handler's failure into transient (thrown as is: BullMQ retries it
 * with backoff) or permanent (UnrecoverableError: fails at once, kept in
 * the failed set for an operator).
 *
 * Permanent: malformed job data, a tenant that no longer exists, and
 * PostgreSQL errors a retry cannot fix (data exceptions, integrity and
 * syntax/undefined-object errors: classes 22, 23, 42). Everything else
 * (connection loss, deadlock 40P01, serialization 40001, lock timeout,
 * server shutdown, unknown errors) is retried.
 */
const PERMANENT_SQLSTATE = /^(22|23|42)/

export function isPermanent(error: unknown): boolean {
  if (error instanceof UnrecoverableError || error instanceof TenantNotFoundException) return true
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.length === 5 && PERMANENT_SQLSTATE.test(code)
}

export function classify(error: unknown): unknown {
  if (error instanceof UnrecoverableError || !isPermanent(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  const unrecoverable = new UnrecoverableError(message)
  unrecoverable.cause = error
  return unrecoverable
}

export class InvalidJobDataError extends UnrecoverableError {}
