import { randomUUID } from 'node:crypto'
import { currentTenant } from '#tenancy/context'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'
import { ALL_EVENTS, PING_EVENT, type WebhookEventType } from '#webhooks/events'

/**
 * Records a webhook event in the current tenant transaction, the one that
 * makes the change it reports: the event, one delivery per active endpoint
 * subscribed to its type, and one outbox row per delivery, in one
 * statement. A rolled-back change leaves none of them; a committed one has
 * them all (the sweeper publishes what the relay could not). With no
 * subscribed endpoint, nothing is written.
 *
 * The body is built once, here, and stored as text: every attempt sends
 * the same bytes, with the same `webhook-id` (the event id).
 */
export interface RecordedEvent {
  eventId: string
  deliveryIds: number[]
}

export function newEventId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`
}

export async function recordWebhookEvent(
  type: WebhookEventType,
  data: unknown
): Promise<RecordedEvent> {
  return insertEvent(type, data, {
    sql: 'e.is_active and e.events && ?::text[]',
    bindings: [subscribersOf(type)],
  })
}

/**
 * The `events` values that subscribe an endpoint to `type`, as a
 * PostgreSQL array literal (names come from WEBHOOK_EVENTS only).
 */
export function subscribersOf(type: WebhookEventType): string {
  return `{${type},${ALL_EVENTS}}`
}

/**
 * A `ping` event for one endpoint (POST /api/webhooks/:id/ping/).
 */
export async function recordPing(endpointId: number): Promise<RecordedEvent> {
  return insertEvent(
    PING_EVENT,
    { endpoint_id: endpointId },
    { sql: 'e.id = ?', bindings: [endpointId] }
  )
}

async function insertEvent(
  type: string,
  data: unknown,
  target: { sql: string; bindings: unknown[] }
): Promise<RecordedEvent> {
  const { trx, tenantId } = currentTenant()
  const eventId = newEventId()
  const createdAt = new Date().toISOString()
  const body = JSON.stringify({
    id: eventId,
    type,
    created_at: createdAt,
    tenant_id: tenantId,
    data,
  })
  const job = JOBS['deliver-webhook']

  // The subscribed endpoints are read once, into a materialized CTE, and
  // the inserts select from it rather than from a tenant table: on Citus
  // an INSERT … SELECT from a tenant table of a distributed schema runs on
  // the worker, whose copy of an identity column's sequence the runtime
  // role has no privilege on (citusdata/citus#6694), while one from an
  // intermediate result runs on the coordinator, as a plain INSERT does.
  const { rows } = await trx.rawQuery<{ rows: { id: number }[] }>(
    `with subscribed as materialized (
       select e.id from webhook_endpoints e where ${target.sql}
     ), event as (
       insert into webhook_events (uid, type, body, created_at)
       select ?, ?, ?, ?::timestamptz
       where exists (select 1 from subscribed)
       returning id
     ), delivery as (
       insert into webhook_deliveries (endpoint_id, event_id)
       select subscribed.id, event.id from subscribed cross join event
       order by subscribed.id
       returning id
     ), outbox_rows as (
       ${outboxInsertSql(job.name, 'delivery')}
     )
     select id from delivery`,
    [...target.bindings, eventId, type, body, createdAt] as never
  )
  for (const row of rows) relayAfterCommit(job, row.id)
  return { eventId, deliveryIds: rows.map((row) => row.id) }
}
