import { BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Webhooks are the owner's: staff and customers get a 403 on every
 * webhook route, before their body is looked at. Another tenant's
 * endpoints do not exist in the caller's schema (404, from the service).
 */
export default class WebhookPolicy extends BasePolicy {
  manage(user: AuthPrincipal): AuthorizerResponse {
    return user.role === 'owner'
  }
}
