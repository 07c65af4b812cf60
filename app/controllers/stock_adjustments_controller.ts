import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import StockAdjustmentPolicy from '#policies/stock_adjustment_policy'
import { StockAdjustmentService } from '#services/stock_adjustment_service'
import StockAdjustmentTransformer from '#transformers/stock_adjustment_transformer'
import { createAdjustmentValidator, listAdjustmentsValidator } from '#validators/stock_adjustment'

/**
 * `/api/products/:id/stock-adjustments`: requested here, applied or
 * rejected by the worker.
 */
@inject()
export default class StockAdjustmentsController {
  constructor(private adjustments: StockAdjustmentService) {}

  /**
   * POST: 202 `{id, status: "pending", …}`.
   */
  async store({ params, request, response, auth, bouncer, serialize }: HttpContext) {
    const principal = auth.getUserOrFail()
    const product = await this.adjustments.findProduct(principal, params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    const payload = await request.validateUsing(createAdjustmentValidator)
    const adjustment = await this.adjustments.request(principal, product.id, payload)
    return response
      .status(202)
      .send(await serialize(StockAdjustmentTransformer.transform(adjustment)))
  }

  /**
   * GET: the product's adjustments, newest first.
   */
  async index({ params, request, auth, bouncer, serialize }: HttpContext) {
    const product = await this.adjustments.findProduct(auth.getUserOrFail(), params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    const filters = await request.validateUsing(listAdjustmentsValidator, { data: request.qs() })
    const page = await this.adjustments.list(product.id, filters)
    return serialize({ data: StockAdjustmentTransformer.transform(page.data), meta: page.meta })
  }

  /**
   * GET …/:adjustment_id/: poll one.
   */
  async show({ params, auth, bouncer, serialize }: HttpContext) {
    const product = await this.adjustments.findProduct(auth.getUserOrFail(), params.id)
    await bouncer.with(StockAdjustmentPolicy).authorize('manage', product)
    const adjustment = await this.adjustments.find(product.id, params.adjustment_id)
    return serialize(StockAdjustmentTransformer.transform(adjustment))
  }
}
