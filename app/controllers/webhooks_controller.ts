import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import WebhookPolicy from '#policies/webhook_policy'
import { WebhookService } from '#services/webhook_service'
import WebhookDeliveryTransformer from '#transformers/webhook_delivery_transformer'
import WebhookEndpointTransformer from '#transformers/webhook_endpoint_transformer'
import {
  createWebhookValidator,
  listDeliveriesValidator,
  listWebhooksValidator,
  updateWebhookValidator,
} from '#validators/webhook'

/**
 * `/api/webhooks`: the owner's endpoints (WebhookPolicy: owner only,
 * checked before the body is validated).
 */
@inject()
export default class WebhooksController {
  constructor(private webhooks: WebhookService) {}

  async index({ request, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const filters = await request.validateUsing(listWebhooksValidator, { data: request.qs() })
    const page = await this.webhooks.list(filters)
    return serialize({ data: WebhookEndpointTransformer.transform(page.data), meta: page.meta })
  }

  /**
   * 201 with the endpoint and its secret, shown only here and on rotation.
   */
  async store({ request, response, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const input = await request.validateUsing(createWebhookValidator)
    const { endpoint, secret } = await this.webhooks.create(input)
    return response.created({
      ...(await serialize(WebhookEndpointTransformer.transform(endpoint))),
      secret,
    })
  }

  async show({ params, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    return serialize(WebhookEndpointTransformer.transform(await this.webhooks.find(params.id)))
  }

  async update({ params, request, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const changes = await request.validateUsing(updateWebhookValidator)
    const endpoint = await this.webhooks.update(params.id, changes)
    return serialize(WebhookEndpointTransformer.transform(endpoint))
  }

  async destroy({ params, response, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    await this.webhooks.delete(params.id)
    return response.noContent()
  }

  async rotateSecret({ params, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    return { secret: await this.webhooks.rotateSecret(params.id) }
  }

  async ping({ params, response, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    return response.status(202).send(await this.webhooks.ping(params.id))
  }

  async deliveries({ params, request, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const filters = await request.validateUsing(listDeliveriesValidator, { data: request.qs() })
    const page = await this.webhooks.deliveries(params.id, filters)
    return serialize({ data: WebhookDeliveryTransformer.transform(page.data), meta: page.meta })
  }

  async retry({ params, response, bouncer, serialize }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const delivery = await this.webhooks.retry(params.id, params.delivery_id)
    return response
      .status(202)
      .send(await serialize(WebhookDeliveryTransformer.transform(delivery)))
  }
}
