import { defineConfig } from '@adonisjs/redis'
import { clusterNodes, clusterOptions, redisOptions } from '#config/redis_options'

/**
 * The application's Redis connection (rate limiter, health check). The
 * queue builds its own connections from the same options factory. With
 * REDIS_CLUSTER_NODES set, it is a cluster connection: every limiter key
 * is one key, so its scripts touch one slot.
 */
const nodes = clusterNodes()

const redisConfig = defineConfig({
  connection: 'main',
  connections: {
    main: nodes ? { clusters: nodes, clusterOptions: clusterOptions() } : redisOptions(),
  },
})

export default redisConfig

declare module '@adonisjs/redis/types' {
  export interface RedisConnections extends InferConnections<typeof redisConfig> {}
}
