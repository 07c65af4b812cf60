import type { Queue, Worker } from 'bullmq'

/**
 * A worker's concurrency that follows its queue's backlog: `steady` while
 * the queue keeps up, `max` while jobs wait.
 *
 * Webhook deliveries need both (bench/ANALYSIS.md, round seven): a backlog
 * drains fastest with many deliveries in flight (a tenant's combined
 * transactions batch what it has in flight), but while the queue keeps
 * up, the same ceiling only lets bursts (a confirmation batch's events)
 * through all at once, contending for the same cores as the API and the
 * confirmations, and every delivery's latency grows with them.
 *
 * The worker starts at `steady` (its constructor's concurrency). Every
 * `intervalMs` the jobs waiting for a worker (`wait` and `prioritized`;
 * delayed retries are not a backlog) are counted, one Redis call on the
 * queue's own keys (one hash tag on a Redis Cluster). The concurrency is
 * raised to `max` after `samples` counts in a row that found either
 * - at least `max` jobs waiting (a backlog to drain), or
 * - any job waiting while this worker runs all it may (`running()` at its
 *   concurrency): slow receivers holding every slot must not make the
 *   others wait (at `max`, it takes as many hanging deliveries as before);
 * and lowered to `steady` after as many that found fewer than a quarter
 * of `steady` waiting and fewer than `steady` running. A short burst
 * changes nothing, nor does a failed count. BullMQ reads the concurrency
 * each time a job ends: the change takes effect there (a running job is
 * never interrupted).
 */
export interface AdaptiveConcurrencyOptions {
  steady: number
  max: number
  intervalMs?: number
  samples?: number
  /** the jobs this worker runs now */
  running: () => number
  /** told of each change (logs, metrics) */
  onChange?: (concurrency: number, backlog: number) => void
}

export function adaptConcurrency(
  worker: Pick<Worker, 'concurrency'>,
  queue: Pick<Queue, 'getJobCounts'>,
  { steady, max, intervalMs = 250, samples = 2, running, onChange }: AdaptiveConcurrencyOptions
): { stop(): void } {
  if (steady >= max) return { stop() {} }
  let above = 0
  let below = 0
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const check = async () => {
    let backlog: number
    try {
      const counts = await queue.getJobCounts('wait', 'prioritized')
      backlog = (counts.wait ?? 0) + (counts.prioritized ?? 0)
    } catch {
      return
    }
    const busy = running()
    const starved = backlog > 0 && busy >= worker.concurrency
    above = backlog >= max || starved ? above + 1 : 0
    below = backlog < steady / 4 && busy < steady ? below + 1 : 0
    const next = above >= samples ? max : below >= samples ? steady : worker.concurrency
    if (next !== worker.concurrency) {
      worker.concurrency = next
      onChange?.(next, backlog)
    }
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => void check().finally(schedule), intervalMs)
    timer.unref()
  }
  schedule()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
