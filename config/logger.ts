import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig, targets } from '@adonisjs/core/logger'

/**
 * Ace commands in production write their JSON lines to stdout from the
 * main thread, synchronously (pino's own destination): a transport starts
 * a worker thread, a second V8 isolate that loads pino again, a cost a
 * short command pays on every run for the few lines it logs, and a
 * synchronous line is not lost when the command exits. The server keeps
 * the transport, which takes the writes off its event loop.
 */
const syncStdout = app.inProduction && app.getEnvironment() === 'console'

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
      transport: syncStdout
        ? undefined
        : {
            targets:
              app.inProduction || app.inTest
                ? [targets.file({ destination: 1 })]
                : [targets.pretty()],
          },
    },
  },
})

export default loggerConfig

declare module '@adonisjs/core/types' {
  export interface LoggersList extends InferLoggers<typeof loggerConfig> {}
}
