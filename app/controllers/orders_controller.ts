import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import OrderPolicy from '#policies/order_policy'
import { OrderService } from '#services/order_service'
import { OrderPlacementService } from '#services/order_placement_service'
import { OrderLifecycleService } from '#services/order_lifecycle_service'
import { UserService } from '#services/user_service'
import OrderTransformer from '#transformers/order_transformer'
import {
  idempotencyKeyValidator,
  listOrdersValidator,
  placeOrderValidator,
  updateOrderValidator,
} from '#validators/order'

@inject()
export default class OrdersController {
  constructor(
    private orders: OrderService,
    private placement: OrderPlacementService,
    private lifecycle: OrderLifecycleService,
    private users: UserService
  ) {}

  /**
   * GET /api/orders/: the orders the caller may see, newest first.
   */
  async index({ request, auth, serialize }: HttpContext) {
    const filters = await request.validateUsing(listOrdersValidator, { data: request.qs() })
    const page = await this.orders.list(auth.getUserOrFail(), filters)
    return serialize({ data: OrderTransformer.transform(page.data), meta: page.meta })
  }

  /**
   * POST /api/orders/: 202 with the pending order; the worker confirms or
   * rejects it.
   */
  async store({ request, response, auth, bouncer, serialize }: HttpContext) {
    await bouncer.with(OrderPolicy).authorize('create')
    const payload = await request.validateUsing(placeOrderValidator)
    const { 'Idempotency-Key': key } = await request.validateUsing(idempotencyKeyValidator, {
      data: { 'Idempotency-Key': request.header('idempotency-key') },
    })

    const { order, replayed } = await this.placement.place(auth.getUserOrFail(), payload, key)
    if (replayed) response.header('Idempotent-Replayed', 'true')
    return response.status(202).send(await serialize(OrderTransformer.transform(order)))
  }

  /**
   * GET /api/orders/:id/.
   */
  async show({ params, auth, serialize }: HttpContext) {
    return serialize(
      OrderTransformer.transform(await this.orders.find(auth.getUserOrFail(), params.id))
    )
  }

  /**
   * PATCH /api/orders/:id/: owner `{assigned_to?, status?}`, assigned staff
   * `{status}`.
   */
  async update({ params, request, auth, bouncer, serialize }: HttpContext) {
    const principal = auth.getUserOrFail()
    const order = await this.orders.lock(principal, params.id)
    await bouncer.with(OrderPolicy).authorize('update', order)
    const changes = await request.validateUsing(updateOrderValidator)

    if (changes.assigned_to !== undefined) {
      await bouncer.with(OrderPolicy).authorize('assign')
      if (changes.assigned_to !== null) await this.users.assertActiveStaff(changes.assigned_to)
    }
    if (changes.status === 'cancelled') {
      await bouncer.with(OrderPolicy).authorize('cancel', order)
    }

    await this.lifecycle.update(order, changes)
    return serialize(OrderTransformer.transform(await this.orders.find(principal, order.id)))
  }

  /**
   * POST /api/orders/:id/cancel/: owner, or the customer who placed it.
   */
  async cancel({ params, auth, bouncer, serialize }: HttpContext) {
    const principal = auth.getUserOrFail()
    const order = await this.orders.lock(principal, params.id)
    await bouncer.with(OrderPolicy).authorize('cancel', order)
    await this.lifecycle.cancel(order)
    return serialize(OrderTransformer.transform(await this.orders.find(principal, order.id)))
  }
}
