import { AuthorizationResponse, BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'
import type { AuthPrincipal } from '#auth/jwt_guard'
import type { ProductRow } from '#models/product'

type Product = Pick<ProductRow, 'assigned_to'>

/**
 * Who may do what with a product. Visibility is not decided here: a
 * product of another tenant does not exist in the caller's schema, and an
 * inactive product does not exist for a customer (both 404, from the
 * service). These rules only run on products the caller can see.
 *
 * - owner: everything;
 * - staff: edit the products assigned to them and read their ledger, but
 *   not reassign them;
 * - customer: read only.
 */
export default class ProductPolicy extends BasePolicy {
  create(user: AuthPrincipal): AuthorizerResponse {
    return user.role === 'owner'
  }

  update(user: AuthPrincipal, product: Product): AuthorizerResponse {
    return isOwnerOrAssignedStaff(user, product)
  }

  /**
   * Setting `assigned_to`. Staff may send the value the product already has
   * (a PUT of the product as read), never another one.
   */
  assign(user: AuthPrincipal, product: Product, assignedTo: number | null): AuthorizerResponse {
    if (user.role === 'owner') return true
    if (user.role === 'staff' && assignedTo === product.assigned_to) return true
    return AuthorizationResponse.deny('Only the owner can change assigned_to')
  }

  delete(user: AuthPrincipal): AuthorizerResponse {
    return user.role === 'owner'
  }

  viewStockMovements(user: AuthPrincipal, product: Product): AuthorizerResponse {
    return isOwnerOrAssignedStaff(user, product)
  }
}

function isOwnerOrAssignedStaff(user: AuthPrincipal, product: Product) {
  return user.role === 'owner' || (user.role === 'staff' && product.assigned_to === user.id)
}
