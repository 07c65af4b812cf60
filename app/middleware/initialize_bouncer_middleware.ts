import { Bouncer } from '@adonisjs/bouncer'
import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Gives every request a bouncer for the authenticated principal
 * (`ctx.auth.user`, set by the auth middleware and confirmed by the tenant
 * middleware). Authorization is written as one policy per resource
 * (app/policies), passed as classes:
 * `ctx.bouncer.with(UserPolicy).authorize('update')`; there are no
 * free-standing abilities.
 */
export default class InitializeBouncerMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    ctx.bouncer = new Bouncer<AuthPrincipal, {}>(
      () => ctx.auth.user ?? null,
      {}
    ).setContainerResolver(ctx.containerResolver)
    return next()
  }
}

declare module '@adonisjs/core/http' {
  export interface HttpContext {
    bouncer: Bouncer<AuthPrincipal, {}>
  }
}
