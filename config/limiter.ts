import { defineConfig, stores } from '@adonisjs/limiter'

/**
 * Rate limits live in Redis so every API process shares them.
 */
const limiterConfig = defineConfig({
  default: 'redis',
  stores: {
    redis: stores.redis({ connectionName: 'main' }),
    /**
     * The per-user and per-tenant API limits: refused at once, not after a
     * reconnection attempt, while Redis is not connected (the request then
     * goes through, see throttleApi).
     */
    api: stores.redis({ connectionName: 'main', rejectIfRedisNotReady: true }),
    memory: stores.memory({}),
  },
})

export default limiterConfig

declare module '@adonisjs/limiter/types' {
  export interface LimitersList extends InferLimiters<typeof limiterConfig> {}
}
