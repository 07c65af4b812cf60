import { BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * The owner manages the people of the store; staff and customers may not
 * (403). The caller's role is the one the tenant middleware read from the
 * database for this request. Which users exist is the service's concern:
 * it only ever sees the caller's tenant, so another tenant's user is 404.
 */
export default class UserPolicy extends BasePolicy {
  viewList(caller: AuthPrincipal): AuthorizerResponse {
    return isOwner(caller)
  }

  view(caller: AuthPrincipal): AuthorizerResponse {
    return isOwner(caller)
  }

  create(caller: AuthPrincipal): AuthorizerResponse {
    return isOwner(caller)
  }

  update(caller: AuthPrincipal): AuthorizerResponse {
    return isOwner(caller)
  }

  delete(caller: AuthPrincipal): AuthorizerResponse {
    return isOwner(caller)
  }
}

function isOwner(caller: AuthPrincipal) {
  return caller.role === 'owner'
}
