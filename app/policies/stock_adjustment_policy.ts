import { BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Stock adjustments of a product: its owner, and the staff member the
 * product is assigned to.
 */
export default class StockAdjustmentPolicy extends BasePolicy {
  manage(user: AuthPrincipal, product: { assigned_to: number | null }): AuthorizerResponse {
    return user.role === 'owner' || (user.role === 'staff' && product.assigned_to === user.id)
  }
}
