import { Bouncer } from '@adonisjs/bouncer'
import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import * as abilities from '#abilities/main'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Gives every request a bouncer for the authenticated principal
 * (`ctx.auth.user`, set by the auth middleware and confirmed by the tenant
 * middleware). Policies are passed as classes:
 * `ctx.bouncer.with(UserPolicy).authorize('update')`.
 */
export default class InitializeBouncerMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    ctx.bouncer = new Bouncer<AuthPrincipal, typeof abilities>(
      () => (ctx.auth.user as AuthPrincipal | undefined) ?? null,
      abilities
    ).setContainerResolver(ctx.containerResolver)
    return next()
  }
}

declare module '@adonisjs/core/http' {
  export interface HttpContext {
    bouncer: Bouncer<AuthPrincipal, typeof abilities>
  }
}
