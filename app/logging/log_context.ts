import { AsyncLocalStorage } from 'node:async_hooks'
import logger from '@adonisjs/core/services/logger'
import type { Logger } from '@adonisjs/core/logger'

/**
 * The logger of the request or job this code runs for: a pino child logger
 * that carries its ids on every line (request: `request_id`, and
 * `tenant_id`, `user_id` once authenticated; job: `job_id`, `queue`, `job`,
 * `tenant_id`). Code deep in services and handlers logs through
 * `currentLogger()` and its lines carry them too; outside a request or a
 * job it is the process logger.
 */
const storage = new AsyncLocalStorage<Logger>()

export function currentLogger(): Logger {
  return storage.getStore() ?? logger
}

/**
 * Runs `fn` with `log` as the current logger.
 */
export function withLogger<T>(log: Logger, fn: () => T): T {
  return storage.run(log, fn)
}
