import type { HttpContext } from '@adonisjs/core/http'
import AppException from '#exceptions/app_exception'
import OrderPolicy from '#policies/order_policy'
import {
  cancelLockedOrder,
  findOrder,
  listOrders,
  lockOrder,
  placeOrder,
  updateOrder,
} from '#services/order_service'
import { assertAssignableStaff } from '#services/assignable_staff'
import {
  IDEMPOTENCY_KEY,
  listOrdersValidator,
  placeOrderValidator,
  updateOrderValidator,
} from '#validators/order'
import type { AuthPrincipal } from '#auth/jwt_guard'

export default class OrdersController {
  /**
   * GET /api/orders/: the orders the caller may see, newest first.
   */
  async index({ request, auth }: HttpContext) {
    const filters = await listOrdersValidator.validate(request.qs())
    return listOrders(auth.getUserOrFail() as AuthPrincipal, filters)
  }

  /**
   * POST /api/orders/: 202 with the pending order; the worker confirms or
   * rejects it.
   */
  async store({ request, response, auth, bouncer }: HttpContext) {
    await bouncer.with(OrderPolicy).authorize('create')
    const payload = await placeOrderValidator.validate(request.body())
    const key = request.header('idempotency-key')
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw AppException.unprocessable(
        'The Idempotency-Key header must be 1 to 255 visible ASCII characters',
        'Idempotency-Key'
      )
    }

    const { order, replayed } = await placeOrder(
      auth.getUserOrFail() as AuthPrincipal,
      payload,
      key
    )
    if (replayed) response.header('Idempotent-Replayed', 'true')
    return response.status(202).send(order)
  }

  /**
   * GET /api/orders/:id/.
   */
  async show({ params, auth }: HttpContext) {
    return findOrder(auth.getUserOrFail() as AuthPrincipal, params.id)
  }

  /**
   * PATCH /api/orders/:id/: owner `{assigned_to?, status?}`, assigned staff
   * `{status}`. Authorized before the body is validated: a caller who may
   * not move the order gets 403 whatever it sends.
   */
  async update({ params, request, auth, bouncer }: HttpContext) {
    const principal = auth.getUserOrFail() as AuthPrincipal
    const order = await lockOrder(principal, params.id)
    await bouncer.with(OrderPolicy).authorize('update', order)

    const changes = await updateOrderValidator.validate(request.body())
    if (changes.assigned_to !== undefined) {
      await bouncer.with(OrderPolicy).authorize('assign')
      if (changes.assigned_to !== null) await assertAssignableStaff(changes.assigned_to)
    }
    if (changes.status === 'cancelled') {
      await bouncer.with(OrderPolicy).authorize('cancel', order)
    }

    await updateOrder(order, changes)
    return findOrder(principal, order.id)
  }

  /**
   * POST /api/orders/:id/cancel/: owner, or the customer who placed it.
   */
  async cancel({ params, auth, bouncer }: HttpContext) {
    const principal = auth.getUserOrFail() as AuthPrincipal
    const order = await lockOrder(principal, params.id)
    await bouncer.with(OrderPolicy).authorize('cancel', order)
    await cancelLockedOrder(order)
    return findOrder(principal, order.id)
  }
}
