import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { throttleLogin, throttleSignUp } from '#auth/rate_limits'
import { revokeSessionOf, rotateRefreshToken } from '#auth/refresh_tokens'
import { AuthService, type SignedIn } from '#services/auth_service'
import { currentTenant } from '#tenancy/context'
import { tenantTransformer } from '#transformers/tenant_transformer'
import { userTransformer } from '#transformers/user_transformer'
import {
  loginValidator,
  refreshValidator,
  registerCustomerValidator,
  registerValidator,
} from '#validators/auth'

/**
 * Sign-up, login, token refresh and logout; `me` for any signed-in role.
 */
@inject()
export default class AuthController {
  constructor(private auth: AuthService) {}

  async register(ctx: HttpContext) {
    const input = await ctx.request.validateUsing(registerValidator)
    await throttleSignUp(ctx.request.ip())
    return ctx.response.created(signedIn(identify(ctx, await this.auth.register(input))))
  }

  async registerCustomer(ctx: HttpContext) {
    const input = await ctx.request.validateUsing(registerCustomerValidator)
    await throttleSignUp(ctx.request.ip())
    return ctx.response.created(signedIn(identify(ctx, await this.auth.registerCustomer(input))))
  }

  async login(ctx: HttpContext) {
    const input = await ctx.request.validateUsing(loginValidator)
    const result = await throttleLogin(input.username, ctx.request.ip(), () =>
      this.auth.login(input)
    )
    return signedIn(identify(ctx, result))
  }

  async refresh({ request }: HttpContext) {
    const { refresh } = await request.validateUsing(refreshValidator)
    return rotateRefreshToken(refresh)
  }

  async logout({ request, response }: HttpContext) {
    const { refresh } = await request.validateUsing(refreshValidator)
    await revokeSessionOf(refresh)
    return response.noContent()
  }

  async me({ auth }: HttpContext) {
    const principal = auth.getUserOrFail() as AuthPrincipal
    const { user, tenant } = await this.auth.me(
      currentTenant().trx,
      principal.id,
      principal.tenantId
    )
    return { user: userTransformer.summary(user), tenant: tenantTransformer.transform(tenant) }
  }
}

/**
 * From here on the request's log lines name the tenant and user it signed in.
 */
function identify(ctx: HttpContext, result: SignedIn): SignedIn {
  ctx.logger = ctx.logger.child({ tenant_id: result.tenant.id, user_id: result.user.id })
  return result
}

function signedIn(result: SignedIn) {
  return {
    access: result.access,
    refresh: result.refresh,
    user: userTransformer.summary(result.user),
    tenant: tenantTransformer.transform(result.tenant),
  }
}
