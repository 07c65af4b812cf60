import type { HttpContext } from '@adonisjs/core/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import ProductPolicy from '#policies/product_policy'
import { ProductService } from '#services/product_service'
import { productTransformer } from '#transformers/product_transformer'
import { productListValidator, productPatchValidator, productValidator } from '#validators/product'

const products = new ProductService()

/**
 * `/api/products`. Role rules live in ProductPolicy, visibility (404) and
 * the stock ledger in ProductService.
 */
export default class ProductsController {
  async index({ request, auth }: HttpContext) {
    const filters = await productListValidator.validate(request.qs())
    return products.list(filters, principal(auth))
  }

  async store({ request, response, bouncer }: HttpContext) {
    await bouncer.with(ProductPolicy).authorize('create')
    const input = await productValidator.validate(request.body())
    const product = await products.create(input)
    return response.created(productTransformer(product))
  }

  async show({ params, auth }: HttpContext) {
    return productTransformer(await products.find(params.id, principal(auth)))
  }

  /**
   * PUT: the full body as for POST.
   */
  async update(ctx: HttpContext) {
    return this.write(ctx, (body) => productValidator.validate(body))
  }

  /**
   * PATCH: any subset of it.
   */
  async patch(ctx: HttpContext) {
    return this.write(ctx, (body) => productPatchValidator.validate(body))
  }

  async destroy({ params, auth, bouncer, response }: HttpContext) {
    const product = await products.find(params.id, principal(auth))
    await bouncer.with(ProductPolicy).authorize('delete')
    await products.delete(product)
    return response.noContent()
  }

  /**
   * Locks the product (404 when the caller cannot see it), authorizes, and
   * only then validates: a caller who may not edit the product gets a 403,
   * not a list of what is wrong with their body.
   */
  private async write(
    { params, request, auth, bouncer }: HttpContext,
    validate: (body: unknown) => Promise<Parameters<ProductService['update']>[1]>
  ) {
    const product = await products.find(params.id, principal(auth), { lock: true })
    await bouncer.with(ProductPolicy).authorize('update', product)
    const changes = await validate(request.body())
    if (changes.assigned_to !== undefined) {
      await bouncer.with(ProductPolicy).authorize('assign', product, changes.assigned_to)
    }
    return productTransformer(await products.update(product, changes))
  }
}

function principal(auth: HttpContext['auth']) {
  return auth.getUserOrFail() as AuthPrincipal
}
