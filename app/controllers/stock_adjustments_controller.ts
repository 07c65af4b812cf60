import type { HttpContext } from '@adonisjs/core/http'
import StockAdjustmentPolicy from '#policies/stock_adjustment_policy'
import {
  findAdjustment,
  findProduct,
  listAdjustments,
  requestAdjustment,
} from '#services/stock_adjustment_service'
import { createAdjustmentValidator, listAdjustmentsValidator } from '#validators/stock_adjustment'
import type { AuthPrincipal } from '#auth/jwt_guard'

export default class StockAdjustmentsController {
  /**
   * POST /api/products/:id/stock-adjustments/: 202 `{id, status: "pending", …}`;
   * the worker applies or rejects it.
   */
  async store({ params, request, response, auth, bouncer }: HttpContext) {
    const principal = auth.getUserOrFail() as AuthPrincipal
    const product = await findProduct(principal, params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    const payload = await createAdjustmentValidator.validate(request.body())
    return response.status(202).send(await requestAdjustment(principal, product.id, payload))
  }

  /**
   * GET /api/products/:id/stock-adjustments/: the product's adjustments, newest first.
   */
  async index({ params, request, auth, bouncer }: HttpContext) {
    const product = await findProduct(auth.getUserOrFail() as AuthPrincipal, params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    const page = await listAdjustmentsValidator.validate(request.qs())
    return listAdjustments(product.id, page)
  }

  /**
   * GET /api/products/:id/stock-adjustments/:adjustment_id/: poll one.
   */
  async show({ params, auth, bouncer }: HttpContext) {
    const product = await findProduct(auth.getUserOrFail() as AuthPrincipal, params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    return findAdjustment(product.id, params.adjustment_id)
  }
}
