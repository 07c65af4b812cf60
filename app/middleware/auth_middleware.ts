import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { throttleApi } from '#auth/rate_limits'
import { withLogger } from '#logging/log_context'

/**
 * Verifies the bearer access token. Answers 401 when it is missing,
 * malformed, forged, expired or not an access token. Then counts the
 * request against its user's and its tenant's API limits
 * (RATE_LIMIT_API_USER, RATE_LIMIT_API_TENANT): 429 with Retry-After past
 * either, before the tenant middleware takes a pooled connection. Every
 * authenticated route goes through here, so none can miss the limits.
 * From here on every log line of the request (its logger, and the current
 * logger of the code it runs) carries the tenant id and the user id.
 */
export default class AuthMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    const principal = await ctx.auth.authenticateUsing(['jwt'])
    ctx.logger = ctx.logger.child({ tenant_id: principal.tenantId, user_id: principal.id })
    return withLogger(ctx.logger, async () => {
      await throttleApi(principal)
      return next()
    })
  }
}
