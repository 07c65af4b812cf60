import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'

/**
 * Verifies the bearer access token. Answers 401 when it is missing,
 * malformed, forged, expired or not an access token.
 */
export default class AuthMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    await ctx.auth.authenticateUsing(['jwt'])
    return next()
  }
}
