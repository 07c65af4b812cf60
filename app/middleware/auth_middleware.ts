import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { withLogger } from '#logging/log_context'

/**
 * Verifies the bearer access token. Answers 401 when it is missing,
 * malformed, forged, expired or not an access token. From here on every
 * log line of the request (its logger, and the current logger of the code
 * it runs) carries the tenant id and the user id.
 */
export default class AuthMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    await ctx.auth.authenticateUsing(['jwt'])
    const principal = ctx.auth.getUserOrFail() as AuthPrincipal
    ctx.logger = ctx.logger.child({ tenant_id: principal.tenantId, user_id: principal.id })
    return withLogger(ctx.logger, next)
  }
}
