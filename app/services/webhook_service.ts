import { inject } from '@adonisjs/core'
import AppException from '#exceptions/app_exception'
import { currentTenant, tenantQuery } from '#tenancy/context'
import { paginate, type PageRequest } from '#services/pagination'
import { outboxDoneManySql, recordOutbox, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import webhooksConfig from '#config/webhooks'
import { checkUrl, RefusedUrlError } from '#webhooks/url_guard'
import { generateSecret, sealSecret } from '#webhooks/signature'
import { recordPing } from '#webhooks/record_event'
import {
  WEBHOOK_DELIVERY_COLUMNS,
  WEBHOOK_ENDPOINT_COLUMNS,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '#models/webhook'

export interface WebhookInput {
  url: string
  events: string[]
  description?: string | null
}

export interface WebhookPatch {
  url?: string
  events?: string[]
  description?: string | null
  is_active?: boolean
}

/**
 * The owner's webhook endpoints and their deliveries, in the current
 * tenant (docs/design/webhooks.md). Every query runs on the request's
 * tenant transaction: another tenant's ids are simply not there (404).
 */
@inject()
export class WebhookService {
  list(page: PageRequest) {
    const query = tenantQuery('webhook_endpoints')
      .select(WEBHOOK_ENDPOINT_COLUMNS)
      .orderBy('id', 'asc')
    return paginate<WebhookEndpointRow>(query, page)
  }

  async find(id: number, options: { lock?: boolean } = {}): Promise<WebhookEndpointRow> {
    const query = tenantQuery('webhook_endpoints').select(WEBHOOK_ENDPOINT_COLUMNS).where('id', id)
    if (options.lock) query.forUpdate()
    const row: WebhookEndpointRow | undefined = await query.first()
    if (!row) throw AppException.notFound('Webhook endpoint not found')
    return row
  }

  /**
   * Creates an endpoint with a new secret, returned once (only its
   * encrypted form is stored).
   */
  async create(input: WebhookInput): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
    await assertCallable(input.url)
    const secret = generateSecret()
    const [endpoint]: WebhookEndpointRow[] = await currentTenant()
      .trx.table('webhook_endpoints')
      .insert({
        url: input.url,
        events: arrayLiteral(input.events),
        description: input.description ?? '',
        secret_encrypted: sealSecret(secret),
      })
      .returning(WEBHOOK_ENDPOINT_COLUMNS)
    return { endpoint, secret }
  }

  /**
   * Re-enabling a disabled endpoint clears its reason and failure count.
   */
  async update(id: number, changes: WebhookPatch): Promise<WebhookEndpointRow> {
    const current = await this.find(id, { lock: true })
    if (changes.url !== undefined && changes.url !== current.url) await assertCallable(changes.url)

    const columns: Record<string, unknown> = { updated_at: currentTenant().trx.raw('now()') }
    if (changes.url !== undefined) columns.url = changes.url
    if (changes.events !== undefined) columns.events = arrayLiteral(changes.events)
    if (changes.description !== undefined) columns.description = changes.description ?? ''
    if (changes.is_active !== undefined) {
      columns.is_active = changes.is_active
      if (changes.is_active) {
        columns.disabled_reason = null
        columns.consecutive_failures = 0
      }
    }
    const [row]: WebhookEndpointRow[] = await tenantQuery('webhook_endpoints')
      .where('id', id)
      .update(columns)
      .returning(WEBHOOK_ENDPOINT_COLUMNS)
    return row
  }

  /**
   * Deletes the endpoint, its deliveries (cascade) and their outbox rows:
   * a delivery job already queued finds nothing and stops.
   */
  async delete(id: number): Promise<void> {
    const { rows } = await currentTenant().trx.rawQuery(
      `with gone as (
         delete from webhook_endpoints where id = ? returning id
       ), outbox_rows as (
         ${outboxDoneManySql(
           JOBS['deliver-webhook'].name,
           'select d.id from webhook_deliveries d where d.endpoint_id in (select id from gone)'
         )}
       )
       select id from gone`,
      [id]
    )
    if (!rows[0]) throw AppException.notFound('Webhook endpoint not found')
  }

  /**
   * A new secret; the previous one keeps signing for 24 hours.
   */
  async rotateSecret(id: number): Promise<string> {
    await this.find(id, { lock: true })
    const secret = generateSecret()
    await currentTenant().trx.rawQuery(
      `update webhook_endpoints set
         previous_secret_encrypted = secret_encrypted,
         previous_secret_expires_at = now() + (?::bigint * interval '1 millisecond'),
         secret_encrypted = ?, updated_at = now()
       where id = ?`,
      [webhooksConfig.rotationOverlapMs, sealSecret(secret), id]
    )
    return secret
  }

  async ping(id: number): Promise<{ event_id: string }> {
    await this.find(id)
    const { eventId } = await recordPing(id)
    return { event_id: eventId }
  }

  /**
   * The endpoint's deliveries, newest first.
   */
  async deliveries(id: number, filters: PageRequest & { status?: string }) {
    await this.find(id)
    const query = this.deliveryQuery(id).orderBy('d.id', 'desc')
    if (filters.status) query.where('d.status', filters.status)
    return paginate<WebhookDeliveryRow>(query, { page: filters.page, per_page: filters.per_page })
  }

  /**
   * Delivers again now: the delivery is `pending` with a new retry window,
   * its outbox row is written, and once committed its job runs at once.
   */
  async retry(id: number, deliveryId: number): Promise<WebhookDeliveryRow> {
    await this.find(id)
    const { rows } = await currentTenant().trx.rawQuery(
      `update webhook_deliveries set status = 'pending', next_attempt_at = now(),
         retry_window_started_at = now(), updated_at = now()
       where id = ? and endpoint_id = ?
       returning id`,
      [deliveryId, id]
    )
    if (!rows[0]) throw AppException.notFound('Webhook delivery not found')
    const job = JOBS['deliver-webhook']
    await recordOutbox(job.name, deliveryId)
    relayAfterCommit(job, deliveryId, { now: true })
    return this.deliveryQuery(id).where('d.id', deliveryId).first()
  }

  private deliveryQuery(endpointId: number) {
    return tenantQuery('webhook_deliveries as d')
      .join('webhook_events as ev', 'ev.id', 'd.event_id')
      .select(WEBHOOK_DELIVERY_COLUMNS)
      .where('d.endpoint_id', endpointId)
  }
}

/**
 * The URL guard's answer as a 422 on `url`.
 */
async function assertCallable(url: string) {
  try {
    await checkUrl(url, { allowPrivate: webhooksConfig.allowPrivate })
  } catch (error) {
    if (error instanceof RefusedUrlError) throw AppException.unprocessable(error.message, 'url')
    throw error
  }
}

/**
 * Event names come from the validator's list (letters, dots, underscores,
 * `*`): safe inside a PostgreSQL array literal.
 */
function arrayLiteral(values: string[]): string {
  return `{${values.join(',')}}`
}
