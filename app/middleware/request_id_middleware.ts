import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'

/**
 * Returns the request id (an incoming `x-request-id`, or a generated one)
 * with every response. The request's logger already carries it.
 */
export default class RequestIdMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    const id = ctx.request.id()
    if (id) ctx.response.header('x-request-id', id)
    return next()
  }
}
