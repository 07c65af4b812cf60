import { Bouncer } from '@adonisjs/bouncer'
import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import * as abilities from '#abilities/main'
import { policies } from '#policies/main'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Creates the request's Bouncer. The user is the authenticated principal
 * (resolved lazily, after the auth and tenant middleware ran).
 */
export default class InitializeBouncerMiddleware {
  async handle(ctx: HttpContext, next: NextFn) {
    ctx.bouncer = new Bouncer<AuthPrincipal, typeof abilities, typeof policies>(
      () => (ctx.auth.user as AuthPrincipal | undefined) ?? null,
      abilities,
      policies
    ).setContainerResolver(ctx.containerResolver)
    return next()
  }
}

declare module '@adonisjs/core/http' {
  export interface HttpContext {
    bouncer: Bouncer<AuthPrincipal, typeof abilities, typeof policies>
  }
}
