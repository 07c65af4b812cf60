import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import WebhookPolicy from '#policies/webhook_policy'
import { WebhookService } from '#services/webhook_service'
import { webhookDeliveryJson, webhookEndpointJson } from '#transformers/webhook_transformer'
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

  async index({ request, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const page = await request.validateUsing(listWebhooksValidator, { data: request.qs() })
    return this.webhooks.list(page)
  }

  async store({ request, response, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const input = await request.validateUsing(createWebhookValidator)
    const { endpoint, secret } = await this.webhooks.create(input)
    return response.created({ ...webhookEndpointJson(endpoint), secret })
  }

  async show({ params, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    return webhookEndpointJson(await this.webhooks.find(params.id))
  }

  async update({ params, request, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const changes = await request.validateUsing(updateWebhookValidator)
    return webhookEndpointJson(await this.webhooks.update(params.id, changes))
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

  async deliveries({ params, request, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const filters = await request.validateUsing(listDeliveriesValidator, { data: request.qs() })
    return this.webhooks.deliveries(params.id, filters)
  }

  async retry({ params, response, bouncer }: HttpContext) {
    await bouncer.with(WebhookPolicy).authorize('manage')
    const delivery = await this.webhooks.retry(params.id, params.delivery_id)
    return response.status(202).send(webhookDeliveryJson(delivery))
  }
}
