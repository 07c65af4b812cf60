import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig, targets } from '@adonisjs/core/logger'

/**
 * Structured logging with pino: JSON lines in production, pretty in
 * development. Request-scoped loggers carry the request id on every line.
 */
const loggerConfig = defineConfig({
  default: 'app',
  loggers: {
    app: {
      enabled: true,
      name: 'tenant-commerce',
      level: env.get('LOG_LEVEL'),
      redact: {
        paths: ['password', '*.password', 'refresh', '*.refresh', 'access', '*.access'],
        censor: '[redacted]',
      },
      transport: {
        targets:
          app.inProduction || app.inTest ? [targets.file({ destination: 1 })] : [targets.pretty()],
      },
    },
  },
})

export default loggerConfig

declare module '@adonisjs/core/types' {
  export interface LoggersList extends InferLoggers<typeof loggerConfig> {}
}
