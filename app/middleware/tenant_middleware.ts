import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { withTenant, type TenantEntry } from '#tenancy/context'
import { errors as authErrors } from '@adonisjs/auth'
import { TenantSuspendedException } from '#exceptions/tenancy'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Serves the rest of the request inside the caller's tenant: one
 * transaction on the shared pool with the tenant's schema on the
 * search_path (see app/tenancy/context.ts). Committed when the handler
 * succeeds, rolled back when it throws.
 *
 * The same round trip confirms the principal: a deleted or deactivated
 * user or a revoked login session is a 401, a suspended tenant a 403. The
 * role is taken from the database, so a role change applies at once.
 */
export default class TenantMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    const principal = ctx.auth.getUserOrFail() as AuthPrincipal
    return withTenant(principal.tenantId, () => next(), {
      principal: { userId: principal.id, sessionId: principal.sessionId },
      check: (entry) => admit(principal, entry),
    })
  }
}

function admit(principal: AuthPrincipal, entry: TenantEntry | null) {
  if (!entry || !entry.user || !entry.user.isActive || entry.sessionRevoked) {
    throw new authErrors.E_UNAUTHORIZED_ACCESS('Invalid or expired access token', {
      guardDriverName: 'jwt',
    })
  }
  if (entry.status !== 'active') {
    throw new TenantSuspendedException()
  }
  principal.role = entry.user.role as AuthPrincipal['role']
}
