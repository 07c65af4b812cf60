import { BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * The fields of an order that decide who may act on it.
 */
export interface OrderAccess {
  customer_id: number
  assigned_to: number | null
}

/**
 * Who may do what with orders. Visibility (owner: all; staff: assigned to
 * them; customer: their own) is applied by the queries, so an order the
 * caller cannot see is a 404 before any of these run.
 */
export default class OrderPolicy extends BasePolicy {
  /** Only customers place orders. */
  create(user: AuthPrincipal): AuthorizerResponse {
    return user.role === 'customer'
  }

  /** The owner, and the staff member the order is assigned to, move it along. */
  update(user: AuthPrincipal, order: OrderAccess): AuthorizerResponse {
    return user.role === 'owner' || (user.role === 'staff' && order.assigned_to === user.id)
  }

  /** Only the owner assigns orders to staff. */
  assign(user: AuthPrincipal): AuthorizerResponse {
    return user.role === 'owner'
  }

  /** The owner, and the customer who placed the order, cancel it. */
  cancel(user: AuthPrincipal, order: OrderAccess): AuthorizerResponse {
    return user.role === 'owner' || (user.role === 'customer' && order.customer_id === user.id)
  }
}
