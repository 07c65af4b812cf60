import { inject } from '@adonisjs/core'
import AppException from '#exceptions/app_exception'
import { currentTenant } from '#tenancy/context'
import { completeOutbox, recordOutbox, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { recordOrderEvent } from '#services/order_events'
import type { LockedOrderRow } from '#models/order'
import type { OrderStatus } from '#validators/order'

/**
 * Legal moves by hand: confirmed → shipped → delivered, and cancelling
 * (`cancel`). `confirmed` and `rejected` are the worker's.
 */
export const MANUAL_TRANSITIONS: Partial<Record<OrderStatus, OrderStatus[]>> = {
  confirmed: ['shipped'],
  shipped: ['delivered'],
}

/**
 * What happens to an order after it was placed, on an order locked by
 * `OrderService.lock` (authorization is the controller's, with
 * OrderPolicy). Any illegal change of state is a 409.
 */
@inject()
export class OrderLifecycleService {
  /**
   * PATCH /api/orders/:id/: a new status and/or a new assignee (already
   * checked to be an active staff member).
   */
  async update(
    order: LockedOrderRow,
    changes: { assigned_to?: number | null; status?: OrderStatus }
  ) {
    const { trx } = currentTenant()
    if (changes.status !== undefined) {
      if (changes.status === 'cancelled') {
        await this.cancel(order)
      } else if (!MANUAL_TRANSITIONS[order.status]?.includes(changes.status)) {
        throw illegalTransition(order.status, changes.status)
      } else {
        await trx.rawQuery('update orders set status = ?, updated_at = now() where id = ?', [
          changes.status,
          order.id,
        ])
      }
    }
    if (changes.assigned_to !== undefined) {
      await trx.rawQuery('update orders set assigned_to = ?, updated_at = now() where id = ?', [
        changes.assigned_to,
        order.id,
      ] as never)
    }
    if (changes.status === 'shipped' || changes.status === 'delivered') {
      await recordOrderEvent(`order.${changes.status}`, order.id)
    }
  }

  /**
   * Cancels the order: a pending one simply (its confirmation job will find
   * nothing to do, so its outbox row goes); a confirmed one also gets a
   * restore-stock job through the outbox. Anything else is a 409.
   */
  async cancel(order: LockedOrderRow) {
    const { trx } = currentTenant()
    if (order.status !== 'pending' && order.status !== 'confirmed') {
      throw illegalTransition(order.status, 'cancelled')
    }
    await trx.rawQuery(`update orders set status = 'cancelled', updated_at = now() where id = ?`, [
      order.id,
    ])
    if (order.status === 'pending') {
      await completeOutbox(JOBS['confirm-order'].name, order.id)
    } else {
      await recordOutbox(JOBS['restore-stock'].name, order.id)
      relayAfterCommit(JOBS['restore-stock'], order.id)
    }
    await recordOrderEvent('order.cancelled', order.id)
  }
}

function illegalTransition(from: OrderStatus, to: OrderStatus) {
  return AppException.conflict(`An order cannot go from ${from} to ${to}`)
}
