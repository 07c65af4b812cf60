import { defineConfig, stores } from '@adonisjs/limiter'

/**
 * Rate limits live in Redis so every API process shares them.
 */
const limiterConfig = defineConfig({
  default: 'redis',
  stores: {
    redis: stores.redis({ connectionName: 'main' }),
    memory: stores.memory({}),
  },
})

export default limiterConfig

declare module '@adonisjs/limiter/types' {
  export interface LimitersList extends InferLimiters<typeof limiterConfig> {}
}
