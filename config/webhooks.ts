import env from '#start/env'

/**
 * Webhook delivery (docs/design/webhooks.md). The timeout, the redirect
 * rule and the 24-hour minimum of retries are the contract's; the rest is
 * tuning.
 */
const webhooksConfig = {
  /**
   * Allows `http` and loopback/private addresses (development and tests
   * only: in production every URL must be https and public).
   */
  allowPrivate: env.get('WEBHOOK_ALLOW_PRIVATE', false),

  /**
   * Delay before the first retry; each next one doubles (with jitter), up
   * to `maxDelayMs`.
   */
  backoffBaseMs: env.get('WEBHOOK_BACKOFF_BASE_MS', 10_000),
  maxDelayMs: env.get('WEBHOOK_BACKOFF_MAX_MS', 3_600_000),

  /**
   * How long a delivery is retried before it is `failed` (at least 24
   * hours outside tests).
   */
  retryWindowMs: env.get('WEBHOOK_RETRY_WINDOW_MS', 24 * 3_600_000),

  /**
   * Deliveries a worker process runs at once (HTTP calls, no database
   * connection held during them: several times WORKER_CONCURRENCY), and
   * at most how many of them go to one endpoint and to one tenant (across
   * every worker): one slow endpoint takes at most 4 of the 256, one tenant
   * at most 16, the others keep flowing.
   */
  concurrency: env.get('WEBHOOK_CONCURRENCY', 256),
  /**
   * Deliveries a worker process runs at once while the queue keeps up
   * (no backlog): fewer than `concurrency`, which it takes while jobs
   * wait (app/queue/adaptive_concurrency.ts). At or above `concurrency`:
   * always `concurrency`.
   */
  steadyConcurrency: env.get('WEBHOOK_STEADY_CONCURRENCY', 32),
  perEndpoint: env.get('WEBHOOK_ENDPOINT_CONCURRENCY', 4),
  perTenant: env.get('WEBHOOK_TENANT_CONCURRENCY', 16),

  /**
   * A delivery that finds its endpoint's slots taken waits for one in the
   * process (app/webhooks/slots.ts) at most this long, so what it read is
   * at most that much older when it is sent, and at most `slotWaiters` of
   * one endpoint's deliveries (and a quarter of `concurrency` in all) wait
   * so at once; beyond either, its job goes back to the queue for a moment
   * (slotRetryDelay).
   */
  slotWaitMs: 1_000,
  slotWaiters: 16,

  /** The contract's: any 2xx within 10 seconds is a success. */
  timeoutMs: 10_000,
  /** Bytes of a receiver's answer read (and kept, truncated, as last_error). */
  maxResponseBytes: 4_096,
  /** Consecutive failed deliveries that disable an endpoint. */
  disableAfter: 20,
  /** How long a rotated-out secret still signs. */
  rotationOverlapMs: 24 * 3_600_000,
}

export default webhooksConfig
