import { test } from '@japa/runner'
import { Queue, Worker } from 'bullmq'
import { adaptConcurrency, type AdaptiveConcurrencyOptions } from '#queue/adaptive_concurrency'
import { closeConnection, queueConnection, queuePrefix } from '#queue/queues'
import { eventually } from '#tests/support/orders'

/**
 * A worker's concurrency follows its queue's backlog
 * (app/queue/adaptive_concurrency.ts), on a real BullMQ queue and worker
 * of its own in Redis.
 */
function jobs(count: number) {
  return Array.from({ length: count }, (_, index) => ({ name: 'job', data: { index } }))
}

test.group('Adaptive concurrency', (group) => {
  let queue: Queue
  let worker: Worker
  let running = 0
  let peak = 0
  let gates: Map<number, () => void>
  const connection = queueConnection({ maxRetriesPerRequest: null })
  const name = `adaptive-${process.pid}`

  group.each.setup(async () => {
    running = 0
    peak = 0
    gates = new Map()
    queue = new Queue(name, { connection, prefix: queuePrefix() })
    await queue.obliterate({ force: true })
    // Each job takes 40 ms, or, with `hang`, until its gate is opened (a
    // receiver that does not answer); `peak` is the most that ran at once.
    worker = new Worker(
      name,
      async (job) => {
        peak = Math.max(peak, ++running)
        try {
          await new Promise<void>((resolve) => {
            if (job.data.hang) gates.set(job.data.index, resolve)
            else setTimeout(resolve, 40)
          })
        } finally {
          running--
        }
      },
      { connection, prefix: queuePrefix(), concurrency: 2, autorun: false }
    )
    return async () => {
      for (const open of gates.values()) open()
      await worker.close()
      await queue.obliterate({ force: true })
      await queue.close()
    }
  })

  /** The worker adapted between 2 and 8, counting every 20 ms, unless told otherwise. */
  const adapt = (options: Partial<AdaptiveConcurrencyOptions> = {}, counted: Queue = queue) =>
    adaptConcurrency(worker, counted, {
      steady: 2,
      max: 8,
      intervalMs: 20,
      running: () => running,
      ...options,
    })

  group.teardown(async () => {
    await closeConnection(connection)
  })

  test('raised to the ceiling while jobs wait, lowered again once they are done', async ({
    assert,
  }) => {
    const changes: Array<[number, number]> = []
    const adapter = adapt({
      onChange: (concurrency, backlog) => changes.push([concurrency, backlog]),
    })
    try {
      await queue.addBulk(jobs(80))
      void worker.run()
      await eventually(async () => worker.concurrency === 8, {
        timeoutMs: 5_000,
        message: 'the concurrency raised',
      })
      // From the next job's end on, 8 run at once.
      await eventually(async () => peak === 8, { timeoutMs: 5_000, message: '8 jobs at once' })
      await eventually(
        async () => {
          const { completed } = await queue.getJobCounts('completed')
          return completed === 80
        },
        { timeoutMs: 10_000, message: 'every job completed' }
      )
      await eventually(async () => worker.concurrency === 2, {
        timeoutMs: 5_000,
        message: 'the concurrency lowered',
      })
      assert.isAtMost(peak, 8)
      assert.deepEqual(
        changes.map(([concurrency]) => concurrency),
        [8, 2]
      )
      assert.isAtLeast(changes[0][1], 2)
      assert.isBelow(changes[1][1], 1)
    } finally {
      adapter.stop()
    }
  })

  test('every slot held by hanging jobs: raised though few wait, so the others run', async ({
    assert,
  }) => {
    const adapter = adapt()
    try {
      // Three hanging jobs, then three quick ones: 4 waiting, below `max`.
      await queue.addBulk([
        ...[0, 1, 2].map((index) => ({ name: 'job', data: { index, hang: true } })),
        ...[3, 4, 5].map((index) => ({ name: 'job', data: { index } })),
      ])
      void worker.run()
      await eventually(async () => worker.concurrency === 8, {
        timeoutMs: 5_000,
        message: 'the concurrency raised',
      })
      // The raise applies once a job ends: the first hanging one answers.
      await eventually(async () => gates.has(0), { timeoutMs: 5_000, message: 'job 0 running' })
      gates.get(0)!()
      await eventually(
        async () => {
          const { completed } = await queue.getJobCounts('completed')
          return completed === 4
        },
        { timeoutMs: 5_000, message: 'the quick jobs done beside the hanging ones' }
      )
      assert.equal(running, 2)
      assert.equal(await queue.getActiveCount(), 2)
    } finally {
      adapter.stop()
    }
  })

  test('a burst shorter than the samples changes nothing', async ({ assert }) => {
    const adapter = adapt({ intervalMs: 50, samples: 1_000 })
    try {
      await queue.addBulk(
        Array.from({ length: 20 }, (_, index) => ({ name: 'job', data: { index } }))
      )
      void worker.run()
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(worker.concurrency, 2)
      assert.equal(peak, 2)
    } finally {
      adapter.stop()
    }
  })

  test('a steady concurrency at or above the ceiling is left as configured', async ({ assert }) => {
    const adapter = adapt({ steady: 8 })
    try {
      await queue.addBulk(
        Array.from({ length: 20 }, (_, index) => ({ name: 'job', data: { index } }))
      )
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.equal(worker.concurrency, 2)
    } finally {
      adapter.stop()
    }
  })

  test('a backlog that cannot be counted (Redis gone) is not taken for none', async ({
    assert,
  }) => {
    // As if raised during a backlog: a failed count must not lower it.
    worker.concurrency = 8
    const unreachable = new Queue(`${name}-unreachable`, {
      connection: {
        host: '127.0.0.1',
        port: 1,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      },
      prefix: queuePrefix(),
    })
    unreachable.on('error', () => {})
    const adapter = adapt({}, unreachable)
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.equal(worker.concurrency, 8)
    } finally {
      adapter.stop()
      await unreachable.close().catch(() => {})
    }
  })
})
