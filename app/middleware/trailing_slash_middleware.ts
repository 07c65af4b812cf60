import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'

/**
 * `/api/products/` and `/api/products` are the same route: clients written
 * for the original service use trailing slashes everywhere. Runs before
 * the route lookup and drops the trailing slash from the path.
 */
export default class TrailingSlashMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    const parsed = ctx.request.parsedUrl
    if (parsed.pathname.length > 1 && parsed.pathname.endsWith('/')) {
      parsed.pathname = parsed.pathname.replace(/\/+$/, '') || '/'
    }
    return next()
  }
}
