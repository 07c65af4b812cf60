import { defineConfig } from '@adonisjs/redis'
import { redisOptions } from '#queue/redis_options'

/**
 * The application's Redis connection (rate limiter, health check). The
 * queue builds its own connections from the same options factory.
 */
const redisConfig = defineConfig({
  connection: 'main',
  connections: {
    main: redisOptions(),
  },
})

export default redisConfig

declare module '@adonisjs/redis/types' {
  export interface RedisConnections extends InferConnections<typeof redisConfig> {}
}
