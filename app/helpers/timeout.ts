/**
 * Raised by `withTimeout` when the promise did not settle in time.
 */
export class TimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number
  ) {
    super(`${what} did not answer within ${ms} ms`)
  }
}

/**
 * Settles like `promise`, or rejects with a TimeoutError after `ms`. The
 * timer is always cleared, so it never keeps the process alive.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what = 'The operation'
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
