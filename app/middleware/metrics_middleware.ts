import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { observeRequest } from '#metrics/api_metrics'

/**
 * Runs first on every request: once the answer has been sent (whatever
 * produced it, errors included), counts it in the HTTP metrics by method,
 * route pattern and status, and writes the request's access log line
 * through the request's logger (request id, and tenant and user once
 * authenticated; per-tenant figures belong in the logs, not the metrics).
 */
export default class MetricsMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    const started = process.hrtime.bigint()
    const raw = ctx.response.response
    const done = () => {
      raw.off('finish', done)
      raw.off('close', done)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const route = ctx.route?.pattern
      const status = raw.statusCode
      observeRequest(ctx.request.method(), route, status, seconds)
      ctx.logger.info(
        {
          method: ctx.request.method(),
          route: route ?? null,
          status,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
        },
        'request completed'
      )
    }
    raw.once('finish', done)
    raw.once('close', done)
    return next()
  }
}
