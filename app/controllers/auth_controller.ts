import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import { throttleLogin } from '#auth/rate_limits'
import { revokeSessionOf, rotateRefreshToken } from '#auth/refresh_tokens'
import { AuthService, type SignedIn } from '#services/auth_service'
import { currentTenant } from '#tenancy/context'
import AccountTransformer from '#transformers/account_transformer'
import TenantTransformer from '#transformers/tenant_transformer'
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
    const signed = identify(ctx, await this.auth.register(input))
    return ctx.response.created(await ctx.serialize(signedIn(signed)))
  }

  async registerCustomer(ctx: HttpContext) {
    const input = await ctx.request.validateUsing(registerCustomerValidator)
    const signed = identify(ctx, await this.auth.registerCustomer(input))
    return ctx.response.created(await ctx.serialize(signedIn(signed)))
  }

  async login(ctx: HttpContext) {
    const input = await ctx.request.validateUsing(loginValidator)
    const result = await throttleLogin(input.username, ctx.request.ip(), () =>
      this.auth.login(input)
    )
    return ctx.serialize(signedIn(identify(ctx, result)))
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

  async me({ auth, serialize }: HttpContext) {
    const principal = auth.getUserOrFail()
    const { user, tenant } = await this.auth.me(
      currentTenant().trx,
      principal.id,
      principal.tenantId
    )
    return serialize({
      user: AccountTransformer.transform(user),
      tenant: TenantTransformer.transform(tenant),
    })
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
    user: AccountTransformer.transform(result.user),
    tenant: TenantTransformer.transform(result.tenant),
  }
}
