/**
 * What closes the queue connections of this process at shutdown: each
 * queue module registers its closer when it loads (app/queue/queues.ts,
 * app/queue/pool_refill.ts), and the queue provider runs the registered
 * ones. A process that never loaded a queue module (most ace commands:
 * `tenants:migrate`, `tenants:list`…) has nothing to close, and its
 * shutdown no longer imports bullmq and ioredis only to close nothing.
 */
const closers = new Set<() => Promise<void>>()
const settlers = new Set<() => Promise<void>>()

export function closeAtShutdown(close: () => Promise<void>): void {
  closers.add(close)
}

/**
 * Work to let finish before any connection closes (app/queue/publisher.ts:
 * the relays of work committed just before the stop).
 */
export function settleAtShutdown(settle: () => Promise<void>): void {
  settlers.add(settle)
}

export async function closeLoadedQueues(): Promise<void> {
  await Promise.all([...settlers].map((settle) => settle()))
  await Promise.all([...closers].map((close) => close()))
}
