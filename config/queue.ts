import env from '#start/env'

/**
 * The queue's settings, read once from the environment (each default
 * written here only).
 */
const queueConfig = {
  /** Prefix of every queue key (wrapped in a hash tag on a Redis Cluster). */
  prefix: env.get('QUEUE_PREFIX') || 'commerce',
  /** Jobs one worker process runs at once (the orders queue; others take a share). */
  workerConcurrency: env.get('WORKER_CONCURRENCY') ?? 8,
  /**
   * How often the sweeper runs, the age of pending work it re-publishes, and
   * the share of the time it may spend sweeping (app/queue/sweeper.ts:
   * sweepPause).
   */
  sweep: {
    intervalMs: env.get('SWEEP_INTERVAL_MS') ?? 10_000,
    ageMs: env.get('SWEEP_AGE_MS') ?? 30_000,
    maxDutyPercent: env.get('SWEEP_MAX_DUTY_PERCENT') ?? 10,
  },
}

export default queueConfig
