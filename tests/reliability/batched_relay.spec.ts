import { givenProduct } from '#tests/support/catalog'
import { test } from '@japa/runner'
import {
  countWithStatus,
  eventually,
  givenTenantWithCustomers,
  ledgerSum,
  outboxCount,
  placeOneUnitOrders,
  resetQueues,
  stockOf,
} from '#tests/support/orders'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { JOBS } from '#queue/jobs'
import { publish } from '#queue/publisher'
import { counterKey } from '#queue/fairness'
import { jobId, queue, queueRedis } from '#queue/queues'

const confirmOrder = JOBS['confirm-order']

/**
 * The relay sends the publishes of one turn of the event loop together
 * (app/queue/publisher.ts): one fairness script and one addBulk pipeline
 * per queue and batch.
 */
test.group('Relay: publishes batched per turn', (group) => {
  group.each.setup(async () => {
    await resetQueues()
  })

  test('a burst published in one turn adds every job once, with per-tenant priorities', async ({
    assert,
  }) => {
    const tenants = [910_001, 910_002]
    const refs = Array.from({ length: 30 }, (_, index) => index + 1)
    // Every ref of both tenants, and every one of the first tenant a second
    // time (relay and sweeper racing): all in the same turn.
    await Promise.all([
      ...tenants.flatMap((tenantId) => refs.map((ref) => publish(confirmOrder, tenantId, ref))),
      ...refs.map((ref) => publish(confirmOrder, tenants[0], ref)),
    ])

    const jobs = await queue(confirmOrder.queue).getJobs(['prioritized', 'waiting'])
    const ids = jobs.map((job) => job.id).sort()
    const expected = tenants
      .flatMap((tenantId) => refs.map((ref) => jobId(confirmOrder.name, tenantId, ref)))
      .sort()
    assert.deepEqual(ids, expected)
    for (const job of jobs) {
      assert.deepEqual(
        job.data,
        { tenantId: Number(job.id!.split(':')[1]), refId: Number(job.id!.split(':')[2]) },
        job.id
      )
    }

    // The k-th job of the second tenant has priority k: the counters of a
    // batch are claimed in order.
    const second = jobs
      .filter((job) => job.data.tenantId === tenants[1])
      .sort((a, b) => a.data.refId - b.data.refId)
    assert.deepEqual(
      second.map((job) => job.priority),
      refs
    )
    assert.equal(Number(await queueRedis().get(counterKey(confirmOrder.queue, tenants[1]))), 30)
  })

  test('more publishes than one batch holds still add every job once', async ({ assert }) => {
    const refs = Array.from({ length: 1_200 }, (_, index) => index + 1)
    await Promise.all(refs.map((ref) => publish(confirmOrder, 910_003, ref)))
    const counts = await queue(confirmOrder.queue).getJobCounts('prioritized', 'waiting')
    assert.equal(counts.prioritized + counts.waiting, refs.length)
  })
})

test.group('Relay: batched publishes with the worker running', (group) => {
  let workers: WorkerHandle | undefined

  group.each.setup(async () => {
    return async () => {
      await workers?.close()
      workers = undefined
    }
  })

  test('a burst of orders is confirmed, each once, and leaves the outbox empty', async ({
    client,
    assert,
  }) => {
    const { tenant, customers } = await givenTenantWithCustomers(5)
    const product = await givenProduct(tenant, { stock: 30 })
    // No sweep: every job must come from the relay.
    workers = startWorkers({ registry, concurrency: 4 })

    const placed = await placeOneUnitOrders(client, customers, product.id, 40)
    await eventually(
      async () =>
        (await countWithStatus(tenant.id, 'confirmed')) +
          (await countWithStatus(tenant.id, 'rejected')) ===
        40,
      { message: 'all 40 orders final' }
    )
    assert.equal(await countWithStatus(tenant.id, 'confirmed'), 30)
    assert.equal(await countWithStatus(tenant.id, 'rejected'), 10)
    assert.equal(await stockOf(tenant.id, product.id), 0)
    assert.equal(await ledgerSum(tenant.id, product.id), 0)
    await eventually(async () => (await outboxCount(tenant.id)) === 0)

    assert.lengthOf(new Set(placed), 40)

    // Each order's job ran, or was removed by the job whose batch did its
    // order (app/jobs/confirm_order.ts): none is left behind, none failed.
    // The jobs of batched orders are removed after the batch commits, and a
    // job already running finishes as `skipped`: wait for the queue to settle.
    const leftOf = async () => {
      const jobs = await queue(JOBS['confirm-order'].queue).getJobs([
        'waiting',
        'prioritized',
        'delayed',
        'active',
        'failed',
      ])
      return jobs.filter((job) => job.data.tenantId === tenant.id)
    }
    await eventually(
      async () => {
        const left = await leftOf()
        return left.length === 0
      },
      { message: 'no job of the burst left in the queue' }
    )
    assert.lengthOf(await leftOf(), 0)
    assert.deepEqual(workers.failures, [])
  }).timeout(90_000)
})
