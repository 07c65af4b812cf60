import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { withLogger } from '#logging/log_context'

/**
 * Returns the request id (an incoming `x-request-id`, or a generated one)
 * with every response. The request's logger already carries it; it becomes
 * the current logger (#logging/log_context) of the rest of the request, so
 * lines logged deep in services carry it too.
 */
export default class RequestIdMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    const id = ctx.request.id()
    if (id) ctx.response.header('x-request-id', id)
    return withLogger(ctx.logger, next)
  }
}
