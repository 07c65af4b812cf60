import { DelayedError } from 'bullmq'
import { currentTenant, inTenantOneRoundTrip, withTenant } from '#tenancy/context'
import { completeOutbox, outboxDoneManySql, outboxDoneSql } from '#queue/outbox'
import type { JobHandler } from '#queue/queues'
import { JOBS } from '#queue/jobs'
import webhooksConfig from '#config/webhooks'
import { openSecret, signatureHeader } from '#webhooks/signature'
import { checkUrl, RefusedUrlError } from '#webhooks/url_guard'
import { send, type SendResult } from '#webhooks/http_sender'
import { releaseSlot, waitForSlot } from '#webhooks/slots'
import { WEBHOOK_LANE } from '#config/database'
import { poolOf, type SliceLease } from '#tenancy/pool_slices'
import { CombinedCalls } from '#helpers/combined_calls'

export type DeliveryOutcome = 'delivered' | 'failed' | 'skipped'

/**
 * A failed attempt that will be retried: BullMQ schedules the next one
 * after `delayMs` (the queue's backoff strategy reads it), the delay also
 * written to the delivery's `next_attempt_at`.
 */
export class DeliveryAttemptError extends Error {
  constructor(
    message: string,
    readonly delayMs: number
  ) {
    super(message)
  }
}

/**
 * The delay before retry number `retry` (1 = the first retry): the
 * backoff base doubled each time, capped, with full jitter on its upper
 * half so receivers that failed together are not retried together.
 */
export function retryDelay(retry: number): number {
  const { backoffBaseMs, maxDelayMs } = webhooksConfig
  const ceiling = Math.min(maxDelayMs, backoffBaseMs * 2 ** Math.min(retry - 1, 30))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}

/**
 * How long a delivery that found no free slot waits before it is picked
 * up again, after `misses` earlier misses of the same attempt: 25–50 ms at
 * first (a burst of one endpoint's events, e.g. a batch of confirmed
 * orders, finds its 4 slots free again within a round trip or two), then
 * doubling with jitter up to 250–500 ms (behind a hanging endpoint each
 * miss costs a read and a Redis script, so they thin out).
 */
export function slotRetryDelay(misses: number): number {
  const ceiling = Math.min(500, 50 * 2 ** Math.min(Math.max(0, misses), 10))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}

interface Target {
  id: number
  status: string
  attempts: number
  endpoint_id: number
  url: string
  is_active: boolean
  secret_encrypted: string
  previous_secret_encrypted: string | null
  previous_valid: boolean
  uid: string
  body: string
  window_elapsed_ms: number
}

const JOB = JOBS['deliver-webhook'].name

/**
 * An id inlined into a one-round-trip statement (a simple-protocol message
 * takes no bind parameters): a positive safe integer, or nothing is sent.
 */
function sqlId(value: number): string {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`Invalid id: ${value}`)
  return String(value)
}

/**
 * The read of step 1: the deliveries, each with its endpoint and its event.
 */
function readDeliveriesSql(deliveryIds: number[]): string {
  return `select d.id, d.status, d.attempts, d.endpoint_id, e.url, e.is_active, e.secret_encrypted,
      e.previous_secret_encrypted,
      coalesce(e.previous_secret_expires_at > now(), false) as previous_valid,
      ev.uid, ev.body,
      (extract(epoch from now() - d.retry_window_started_at) * 1000)::bigint as window_elapsed_ms
    from webhook_deliveries d
    join webhook_endpoints e on e.id = d.endpoint_id
    join webhook_events ev on ev.id = d.event_id
    where d.id in (${deliveryIds.map(sqlId).join(', ')})`
}

interface Delivered {
  deliveryId: number
  statusCode: number
}

/**
 * Step 3 for 2xx answers (integers only): each delivery `delivered` with
 * its status code, the endpoints' failure counts back to 0, the outbox
 * rows gone, in one statement. Selects the ids it delivered.
 */
function deliveredSql(delivered: Delivered[]): string {
  // The ids also as a list of literals: the index conditions on the
  // deliveries' and the outbox's keys come from it (a join with the
  // VALUES alone would scan every pending delivery of the tenant).
  const ids = delivered.map(({ deliveryId }) => sqlId(deliveryId)).join(', ')
  const values = delivered
    .map(({ deliveryId, statusCode }) => `(${sqlId(deliveryId)}::bigint, ${sqlId(statusCode)})`)
    .join(', ')
  return `with answered (id, status_code) as (
      values ${values}
    ), delivered as (
      update webhook_deliveries d set status = 'delivered', attempts = d.attempts + 1,
        last_status_code = answered.status_code, last_error = null, delivered_at = now(),
        next_attempt_at = null, updated_at = now()
      from answered
      where d.id in (${ids}) and d.id = answered.id and d.status = 'pending'
      returning d.id, d.endpoint_id
    ), endpoint as (
      update webhook_endpoints set consecutive_failures = 0
      where id in (select endpoint_id from delivered) and consecutive_failures <> 0
    ), done as (
      ${outboxDoneManySql(JOB, ids)}
    )
    select id from delivered`
}

/**
 * A delivered outcome is committed without waiting for its WAL flush
 * (transaction-local `synchronous_commit = off`; the server still writes
 * it within `wal_writer_delay` × 3, and nothing is ever corrupted). All a
 * crash of PostgreSQL in that fraction of a second can lose is the record
 * of a 2xx: the delivery is then still pending with its outbox row, the
 * sweeper publishes it again and the receiver gets the same event (same
 * `webhook-id`) once more, which at-least-once delivery allows. The
 * change the event reports was committed durably before its delivery was
 * ever published. Under load, deliveries otherwise spent most of their
 * database time waiting for WAL flushes (sampled in pg_stat_activity,
 * bench/ANALYSIS.md).
 */
const ASYNC_COMMIT = `select set_config('synchronous_commit', 'off', true)`

/**
 * The database work of one delivery: its read (step 1) or its delivered
 * outcome (step 3).
 */
type TenantWork = { read: number } | { delivered: Delivered }
type WorkResult = Target | null | boolean

/**
 * Steps 1 and 3 run on the worker's webhook lane of the runtime pool
 * (config/database.ts), and the reads and delivered outcomes of one
 * tenant's deliveries go together (CombinedCalls): one tenant transaction,
 * the outcomes' statement then the reads', instead of one transaction
 * each. The batch is cut once a connection of the lane is leased for it,
 * so everything of the tenant that came while it waited for one, or while
 * its previous round trip ran, rides along; a lone delivery waits for
 * nothing.
 */
const tenantWork = new CombinedCalls<number, TenantWork, WorkResult, SliceLease>(
  async (tenantId, work, lease) => {
    try {
      const delivered = work.flatMap((item) => ('delivered' in item ? [item.delivered] : []))
      const reads = work.flatMap((item) => ('read' in item ? [item.read] : []))
      const statements: string[] = []
      if (delivered.length > 0) statements.push(ASYNC_COMMIT, deliveredSql(delivered))
      if (reads.length > 0) statements.push(readDeliveriesSql(reads))
      const results = await inTenantOneRoundTrip(tenantId, statements, { lease })
      const done = new Set(delivered.length > 0 ? results[1].map((row) => row.id as number) : [])
      const read = new Map(
        (reads.length > 0 ? (results.at(-1) as Target[]) : []).map((row) => [row.id, row])
      )
      return work.map((item) =>
        'read' in item ? (read.get(item.read) ?? null) : done.has(item.delivered.deliveryId)
      )
    } finally {
      lease.release()
    }
  },
  32,
  (tenantId) => poolOf(WEBHOOK_LANE).acquire(tenantId)
)

async function readDelivery(tenantId: number, deliveryId: number): Promise<Target | null> {
  return (await tenantWork.call(tenantId, { read: deliveryId })) as Target | null
}

async function recordDelivered(tenantId: number, delivered: Delivered): Promise<void> {
  await tenantWork.call(tenantId, { delivered })
}

/**
 * Delivers one webhook (one event to one endpoint), at least once:
 * 1. a tenant transaction of one round trip (BEGIN with the tenant entry,
 *    the read, COMMIT in one message) reads the delivery, its endpoint and
 *    its event (with the tenant's other deliveries that wait for the
 *    database meanwhile, see `tenantWork`). A delivery no longer pending,
 *    or whose endpoint is gone, is done; one whose endpoint is disabled is
 *    `failed` (a second, ordinary transaction; rare);
 * 2. with a concurrency slot of the endpoint and of the tenant (waited for
 *    in the process for up to a second, `waitForSlot`; past that the job
 *    goes back to the queue for a moment: slotRetryDelay), and no database
 *    connection held,
 *    the URL is checked again on its resolved address and the signed POST
 *    is sent (over a kept-alive connection to that checked address, see
 *    http_sender.ts);
 * 3. a second short transaction records the outcome in one statement:
 *    `delivered` (integers only: one round trip again, shared with the
 *    tenant's other deliveries that reach the database meanwhile, their
 *    reads included); or a retry later
 *    (the job is retried by BullMQ with the delay stored in
 *    `next_attempt_at`); or, once the retry window (24 hours) has passed,
 *    `failed`, counting one more consecutive failure of the endpoint,
 *    which is disabled at the 20th. The outbox row goes when the delivery
 *    is final.
 * A worker killed during step 2 leaves the job to BullMQ's stalled check:
 * it runs again, with the same event id in `webhook-id`.
 */
export const deliverWebhook: JobHandler = async ({ tenantId, refId }, { job, token }) => {
  const target = await readDelivery(tenantId, refId)
  if (!target || target.status !== 'pending' || !target.is_active) {
    await withTenant(
      tenantId,
      async () => {
        if (!target || target.status !== 'pending') {
          await completeOutbox(JOB, refId)
          return
        }
        await currentTenant().trx.rawQuery(
          `with done as (${outboxDoneSql(JOB)})
         update webhook_deliveries set status = 'failed', next_attempt_at = null,
           last_error = 'The endpoint is disabled', updated_at = now()
         where id = ? and status = 'pending'`,
          [refId, refId]
        )
      },
      { lane: WEBHOOK_LANE }
    )
    return 'skipped'
  }

  const owner = `${job.id}:${token ?? ''}`
  const slot = await waitForSlot(
    tenantId,
    target.endpoint_id,
    owner,
    {
      perEndpoint: webhooksConfig.perEndpoint,
      perTenant: webhooksConfig.perTenant,
      holdMs: webhooksConfig.timeoutMs + 5_000,
    },
    {
      maxWaitMs: webhooksConfig.slotWaitMs,
      maxWaiters: webhooksConfig.slotWaiters,
      // a quarter of the process's deliveries at most wait for a slot
      maxWaitingTotal: Math.floor(webhooksConfig.concurrency / 4),
    }
  )
  if (!slot) {
    // attemptsStarted counts every pick-up, the slot misses included
    const misses = Math.max(0, (job.attemptsStarted ?? 1) - job.attemptsMade - 1)
    await job.moveToDelayed(Date.now() + slotRetryDelay(misses), token)
    throw new DelayedError()
  }
  let result: SendResult
  try {
    result = await attempt(target)
  } finally {
    await releaseSlot(tenantId, target.endpoint_id, owner).catch(() => {})
  }

  const retryIn = await recordOutcome(tenantId, target, result)
  if (result.ok) return 'delivered'
  if (retryIn === null) return 'failed'
  throw new DeliveryAttemptError(result.error ?? 'failed', retryIn)
}

/**
 * One attempt: the URL checked on the addresses its host resolves to now,
 * then the POST to the first of them, signed with every valid secret.
 */
async function attempt(target: Target): Promise<SendResult> {
  let checked: Awaited<ReturnType<typeof checkUrl>>
  try {
    checked = await checkUrl(target.url, { allowPrivate: webhooksConfig.allowPrivate })
  } catch (error) {
    const message = error instanceof RefusedUrlError ? error.message : String(error)
    return { ok: false, statusCode: null, error: `Refused: ${message}` }
  }
  const secrets = [openSecret(target.secret_encrypted)]
  if (target.previous_valid && target.previous_secret_encrypted) {
    secrets.push(openSecret(target.previous_secret_encrypted))
  }
  const timestamp = Math.floor(Date.now() / 1000)
  return send(
    checked.url,
    checked.addresses[0],
    {
      'webhook-id': target.uid,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(secrets, target.uid, timestamp, target.body),
    },
    target.body,
    { timeoutMs: webhooksConfig.timeoutMs, maxResponseBytes: webhooksConfig.maxResponseBytes }
  )
}

/**
 * Records the attempt. Returns the retry delay in ms when the delivery
 * stays pending, null when it is final (or gone).
 */
async function recordOutcome(
  tenantId: number,
  target: Target,
  result: SendResult
): Promise<number | null> {
  if (result.ok && result.statusCode !== null) {
    await recordDelivered(tenantId, { deliveryId: target.id, statusCode: result.statusCode })
    return null
  }
  return withTenant(
    tenantId,
    async () => {
      const { trx } = currentTenant()
      const error = (result.error ?? 'failed').replaceAll('\u0000', '').slice(0, 1_000)
      if (Number(target.window_elapsed_ms) < webhooksConfig.retryWindowMs) {
        const delay = retryDelay(target.attempts + 1)
        const { rows } = await trx.rawQuery(
          `update webhook_deliveries set attempts = attempts + 1, last_status_code = ?,
           last_error = ?, updated_at = now(),
           next_attempt_at = now() + (?::bigint * interval '1 millisecond')
         where id = ? and status = 'pending'
         returning id`,
          [result.statusCode, error, delay, target.id] as never
        )
        return rows[0] ? delay : null
      }

      await trx.rawQuery(
        `with failed as (
         update webhook_deliveries set status = 'failed', attempts = attempts + 1,
           last_status_code = ?, last_error = ?, next_attempt_at = null, updated_at = now()
         where id = ? and status = 'pending'
         returning endpoint_id
       ), endpoint as (
         update webhook_endpoints set
           consecutive_failures = consecutive_failures + 1,
           is_active = is_active and consecutive_failures + 1 < ?,
           disabled_reason = case when is_active and consecutive_failures + 1 >= ?
             then ? else disabled_reason end,
           updated_at = now()
         where id in (select endpoint_id from failed)
       )
       ${outboxDoneSql(JOB)}`,
        [
          result.statusCode,
          error,
          target.id,
          webhooksConfig.disableAfter,
          webhooksConfig.disableAfter,
          `Disabled after ${webhooksConfig.disableAfter} consecutive failed deliveries (last: ${error.slice(0, 200)})`,
          target.id,
        ] as never
      )
      return null
    },
    { lane: WEBHOOK_LANE }
  )
}
