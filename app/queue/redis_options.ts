import env from '#start/env'
import type { RedisOptions } from 'ioredis'

/**
 * The one place that turns the environment into ioredis options. The app's
 * connection (rate limiter, health), the queue producers and the workers
 * all start from here.
 *
 * By default a command waits for at most one reconnection attempt, so an
 * outage answers 503 (or leaves work in the outbox) within a fraction of a
 * second instead of hanging a request. Workers pass
 * `{ maxRetriesPerRequest: null }`, as BullMQ requires for blocking
 * connections.
 */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    host: env.get('REDIS_HOST'),
    port: env.get('REDIS_PORT'),
    password: env.get('REDIS_PASSWORD') || undefined,
    db: env.get('REDIS_DB') ?? 0,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    ...overrides,
  }
}
