import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import ProductPolicy from '#policies/product_policy'
import { withAdmittedTenant } from '#auth/admission'
import { ProductService } from '#services/product_service'
import ProductTransformer from '#transformers/product_transformer'
import {
  productListValidator,
  productPatchValidator,
  productValidator,
  type ProductPatch,
} from '#validators/product'

/**
 * `/api/products`. Role rules live in ProductPolicy, visibility (404) and
 * the stock ledger in ProductService.
 */
@inject()
export default class ProductsController {
  constructor(private products: ProductService) {}

  /**
   * The list route has no tenant middleware: its transaction is one round
   * trip (ProductService.listForRequest). The admission still comes first:
   * a query string that fails validation is answered only once the caller
   * is admitted (401/403 before 422, as behind the tenant middleware).
   */
  async index({ request, auth, serialize }: HttpContext) {
    const principal = auth.getUserOrFail()
    const filters = await request
      .validateUsing(productListValidator, { data: request.qs() })
      .catch(async (error) => {
        await withAdmittedTenant(principal, async () => {})
        throw error
      })
    const page = await this.products.listForRequest(filters, principal)
    return serialize({ data: ProductTransformer.transform(page.data), meta: page.meta })
  }

  async store({ request, response, bouncer, serialize }: HttpContext) {
    await bouncer.with(ProductPolicy).authorize('create')
    const input = await request.validateUsing(productValidator)
    const product = await this.products.create(input)
    return response.created(await serialize(ProductTransformer.transform(product)))
  }

  async show({ params, auth, serialize }: HttpContext) {
    const product = await this.products.find(params.id, auth.getUserOrFail())
    return serialize(ProductTransformer.transform(product))
  }

  /**
   * PUT: the full body as for POST.
   */
  async update(ctx: HttpContext) {
    return this.write(ctx, (request) => request.validateUsing(productValidator))
  }

  /**
   * PATCH: any subset of it.
   */
  async patch(ctx: HttpContext) {
    return this.write(ctx, (request) => request.validateUsing(productPatchValidator))
  }

  async destroy({ params, auth, bouncer, response }: HttpContext) {
    const product = await this.products.find(params.id, auth.getUserOrFail())
    await bouncer.with(ProductPolicy).authorize('delete')
    await this.products.delete(product)
    return response.noContent()
  }

  /**
   * Locks the product (404 when the caller cannot see it), authorizes, and
   * only then validates: a caller who may not edit the product gets a 403,
   * not a list of what is wrong with their body.
   */
  private async write(
    { params, request, auth, bouncer, serialize }: HttpContext,
    validate: (request: HttpContext['request']) => Promise<ProductPatch>
  ) {
    const product = await this.products.find(params.id, auth.getUserOrFail(), { lock: true })
    await bouncer.with(ProductPolicy).authorize('update', product)
    const changes = await validate(request)
    if (changes.assigned_to !== undefined) {
      await bouncer.with(ProductPolicy).authorize('assign', product, changes.assigned_to)
    }
    return serialize(ProductTransformer.transform(await this.products.update(product, changes)))
  }
}
