import { inject } from '@adonisjs/core'
import db from '@adonisjs/lucid/services/db'
import AppException from '#exceptions/app_exception'
import { tenantQuery } from '#tenancy/context'
import { paginate, type PageRequest } from '#services/pagination'
import { ORDER_COLUMNS, type LockedOrderRow, type OrderRow } from '#models/order'
import type { OrderStatus } from '#validators/order'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Reading orders. Placement and the lifecycle (PATCH, cancel) have their
 * own services; all three see an order only as its principal may.
 */
@inject()
export class OrderService {
  list(principal: AuthPrincipal, filters: PageRequest & { status?: OrderStatus }) {
    const query = visibleOrders(principal).select(db.raw(ORDER_COLUMNS)).orderBy('o.id', 'desc')
    if (filters.status) query.where('o.status', filters.status)
    return paginate<OrderRow>(query, filters)
  }

  /**
   * One order the principal may see, or a 404 (also for another tenant's
   * ids: they do not exist in this schema).
   */
  async find(principal: AuthPrincipal, orderId: number): Promise<OrderRow> {
    const row = await visibleOrders(principal)
      .select(db.raw(ORDER_COLUMNS))
      .where('o.id', orderId)
      .first()
    if (!row) throw AppException.notFound('Order not found')
    return row
  }

  /**
   * Locks an order the principal may see (for a change of state), or 404.
   */
  async lock(principal: AuthPrincipal, orderId: number): Promise<LockedOrderRow> {
    const row = await visibleOrders(principal)
      .select('o.id', 'o.status', 'o.customer_id', 'o.assigned_to', 'o.confirmed_at')
      .where('o.id', orderId)
      .forUpdate()
      .first()
    if (!row) throw AppException.notFound('Order not found')
    return row
  }
}

/**
 * Orders the principal may see: the owner all of them, staff those
 * assigned to them, a customer their own.
 */
function visibleOrders(principal: AuthPrincipal) {
  const query = tenantQuery('orders as o')
  if (principal.role === 'staff') query.where('o.assigned_to', principal.id)
  if (principal.role === 'customer') query.where('o.customer_id', principal.id)
  return query
}
