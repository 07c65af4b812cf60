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
}

export function newEventId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`
}

export async function recordWebhookEvent(
  type: WebhookEventType,
  data: unknown
): Promise<RecordedEvent> {
  const [recorded] = await recordWebhookEvents(type, [data])
  return recorded
}

/**
 * Several events of one type in one statement (the orders a confirmation
 * batch decided): as many `recordWebhookEvent` calls would record, in
 * the order given, with one round trip instead of one each.
 */
export async function recordWebhookEvents(
  type: WebhookEventType,
  data: unknown[]
): Promise<RecordedEvent[]> {
  return insertEvents(type, data, {
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
  const [recorded] = await insertEvents(PING_EVENT, [{ endpoint_id: endpointId }], {
    sql: 'e.id = ?',
    bindings: [endpointId],
  })
  return recorded
}

async function insertEvents(
  type: string,
  data: unknown[],
  target: { sql: string; bindings: unknown[] }
): Promise<RecordedEvent[]> {
  if (data.length === 0) return []
  const { trx, tenantId } = currentTenant()
  const createdAt = new Date().toISOString()
  const events = data.map((item, position) => {
    const uid = newEventId()
    const body = JSON.stringify({
      id: uid,
      type,
      created_at: createdAt,
      tenant_id: tenantId,
      data: item,
    })
    return { position, uid, body }
  })
  const job = JOBS['deliver-webhook']

  // The subscribed endpoints are read once, into a materialized CTE, and
  // the inserts select from it and from the statement's input rather than
  // from a tenant table: on Citus an INSERT … SELECT from a tenant table of
  // a distributed schema runs on the worker, whose copy of an identity
  // column's sequence the runtime role has no privilege on
  // (citusdata/citus#6694), while one from an intermediate result runs on
  // the coordinator, as a plain INSERT does. Events get their ids in the
  // order given, and each event's deliveries follow in endpoint order.
  const { rows } = await trx.rawQuery<{ rows: { id: number }[] }>(
    `with subscribed as materialized (
       select e.id from webhook_endpoints e where ${target.sql}
     ), input as materialized (
       select * from json_to_recordset(?::json) as x(position int, uid text, body text)
     ), event as (
       insert into webhook_events (uid, type, body, created_at)
       select input.uid, ?, input.body, ?::timestamptz from input
       where exists (select 1 from subscribed)
       order by input.position
       returning id
     ), delivery as (
       insert into webhook_deliveries (endpoint_id, event_id)
       select subscribed.id, event.id from subscribed cross join event
       order by event.id, subscribed.id
       returning id
     ), outbox_rows as (
       ${outboxInsertSql(job.name, 'delivery')}
     )
     select id from delivery`,
    [...target.bindings, JSON.stringify(events), type, createdAt] as never
  )
  for (const row of rows) relayAfterCommit(job, row.id)
  return events.map(({ uid }) => ({ eventId: uid }))
}
