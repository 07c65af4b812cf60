import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { withTenant } from '#tenancy/context'
import { admit, sessionAdmission } from '#auth/admission'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Serves the rest of the request inside the caller's tenant: one
 * transaction on the runtime role's shared pool, entered for the tenant
 * (see app/tenancy/context.ts), whose first round trip also admits the
 * principal (app/auth/admission.ts).
 *
 * Committed only when the handler succeeded: the framework renders what a
 * controller throws and lets `next()` resolve, so the transaction is rolled
 * back whenever `next()` throws or the response is an error (status
 * >= 400). After-commit work (outbox relays) then never runs.
 */
export default class TenantMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    const principal = ctx.auth.getUserOrFail() as AuthPrincipal
    return withTenant(principal.tenantId, () => next(), {
      admission: sessionAdmission(principal),
      check: (entry) => admit(principal, entry),
      shouldCommit: () => ctx.response.getStatus() < 400,
    })
  }
}
