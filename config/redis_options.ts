import env from '#start/env'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

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

export interface ClusterNode {
  host: string
  port: number
}

/**
 * The seed nodes of a Redis Cluster (`REDIS_CLUSTER_NODES`, a comma
 * separated `host:port` list), or null when the app runs on one Redis.
 * The variable is validated in start/env.ts.
 */
export function clusterNodes(): ClusterNode[] | null {
  const list = env.get('REDIS_CLUSTER_NODES')
  if (!list) return null
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':')
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) }
    })
}

/**
 * ioredis Cluster options from the same settings: each node connection gets
 * the standalone options (password, timeouts, retries) except the database
 * number, which a cluster does not have (always 0).
 */
export function clusterOptions(overrides: RedisOptions = {}): ClusterOptions {
  const nodeOptions = redisOptions(overrides)
  const retryStrategy = nodeOptions.retryStrategy
  delete nodeOptions.host
  delete nodeOptions.port
  delete nodeOptions.db
  delete nodeOptions.retryStrategy
  return {
    redisOptions: nodeOptions,
    clusterRetryStrategy: retryStrategy,
    // Commands wait for the slot map after a reconnect instead of failing.
    enableOfflineQueue: true,
    slotsRefreshTimeout: 2_000,
  }
}

/**
 * A new client on the configured Redis: a Cluster when
 * `REDIS_CLUSTER_NODES` is set (unless `standalone` is asked), else one
 * Redis.
 */
export function createRedis(overrides: RedisOptions = {}, standalone = false): Redis | Cluster {
  const nodes = standalone ? null : clusterNodes()
  if (nodes) return new Cluster(nodes, clusterOptions(overrides))
  return new Redis(redisOptions(overrides))
}

/**
 * The clients to address "every key" on: each master of a cluster, or the
 * one Redis (SCAN/KEYS and FLUSHDB run per node).
 */
export function masters(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client]
}
