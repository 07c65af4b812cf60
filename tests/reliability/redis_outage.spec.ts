import { givenProduct } from '#tests/support/catalog'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import {
  countWithStatus,
  eventually,
  ledgerSum,
  movementsOf,
  orderStatuses,
  outboxCount,
  stockOf,
  finalCount,
  placeOneUnitOrders,
  givenTenantWithCustomers,
  wipeQueueRedis,
} from '#tests/support/orders'
import { privateRedis, type PrivateRedis } from '#tests/support/processes'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { configureQueueConnection, queue } from '#queue/queues'
import { publish } from '#queue/publisher'
import { JOBS } from '#queue/jobs'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

// Back to back (no duty bound): these tests wait for the sweeper.
const FAST_SWEEP = { intervalMs: 250, ageMs: 500, maxDutyPercent: 100 }

test.group('Reliability: Redis loses the queue', (group) => {
  let tenant: GivenTenant
  let customers: GivenUser[]
  let workers: WorkerHandle | undefined

  group.each.setup(async () => {
    ;({ tenant, customers } = await givenTenantWithCustomers(4))
    return async () => {
      await workers?.close()
      workers = undefined
    }
  })

  test('the queue DB flushed mid-burst: the sweeper brings every order to a final state', async ({
    client,
    assert,
    cleanup,
  }) => {
    const product = await givenProduct(tenant, { stock: 25 })
    workers = startWorkers({ registry, concurrency: 4, sweep: FAST_SWEEP })
    await placeOneUnitOrders(client, customers, product.id, 10)
    await eventually(async () => (await finalCount(tenant.id)) === 10)

    // Park the next jobs mid-transaction, then wipe this worktree's Redis DB
    // (its own REDIS_DB only): waiting and running jobs are gone.
    const lock: TransactionClientContract = await db.transaction()
    await lock.rawQuery(
      `select id from ${quoteIdent(tenantSchema(tenant.id))}.products where id = ? for update`,
      [product.id]
    )
    cleanup(() => lock.rollback().catch(() => {}))
    await placeOneUnitOrders(client, customers, product.id, 40)
    await eventually(async () => (await queue('orders').getActiveCount()) >= 1)
    await wipeQueueRedis()
    await lock.rollback()

    await eventually(async () => (await finalCount(tenant.id)) === 50, {
      message: 'all 50 orders final',
    })
    const statuses = await orderStatuses(tenant.id)
    assert.deepEqual(statuses, { confirmed: 25, rejected: 25 })
    assert.equal(await stockOf(tenant.id, product.id), 0)
    assert.equal(await ledgerSum(tenant.id, product.id), 0)
    const taken = await movementsOf(tenant.id, { kind: 'order' })
    assert.lengthOf(new Set(taken.map((m) => m.order_id)), 25)
    await eventually(async () => (await outboxCount(tenant.id)) === 0)
  })
})

test.group('Reliability: Redis down', (group) => {
  let redis: PrivateRedis
  let workers: WorkerHandle | undefined

  group.each.setup(async () => {
    redis = await privateRedis()
    await redis.start()
    await configureQueueConnection({ port: redis.port, db: 0 })
    return async () => {
      await workers?.close()
      workers = undefined
      await configureQueueConnection({})
      await redis.stop()
    }
  })

  test('an order placed while Redis is down is accepted (202) and confirmed once it is back', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const customer = await givenUser(tenant, 'customer')
    const product = await givenProduct(tenant, { stock: 5 })
    workers = startWorkers({ registry, concurrency: 2, sweep: FAST_SWEEP })

    const [before] = await placeOneUnitOrders(client, [customer], product.id, 1)
    await eventually(async () => (await countWithStatus(tenant.id, 'confirmed')) === 1, {
      message: `order ${before} confirmed`,
    })

    await redis.stop()
    const [during] = await placeOneUnitOrders(client, [customer], product.id, 1)
    const { rows } = await db.rawQuery(
      `select status from ${quoteIdent(tenantSchema(tenant.id))}.orders where id = ?`,
      [during]
    )
    assert.equal(rows[0].status, 'pending')
    assert.equal(await outboxCount(tenant.id), 1)

    // Redis comes back empty (no persistence): PostgreSQL still has the work.
    await redis.start()
    await eventually(async () => (await countWithStatus(tenant.id, 'confirmed')) === 2, {
      message: `order ${during} confirmed after Redis returned`,
    })
    assert.equal(await stockOf(tenant.id, product.id), 3)
    assert.equal(await ledgerSum(tenant.id, product.id), 3)
    await eventually(async () => (await outboxCount(tenant.id)) === 0)
  }).timeout(90_000)

  // The relay's batches (app/queue/publisher.ts) while Redis is down.
  test('every publish of a burst fails, the outbox keeps every row, and the sweeper publishes them once Redis is back', async ({
    client,
    assert,
  }) => {
    const { tenant, customers } = await givenTenantWithCustomers(3)
    const product = await givenProduct(tenant, { stock: 100 })

    await redis.stop()
    const failures = await Promise.allSettled(
      [1, 2, 3].map((ref) => publish(JOBS['confirm-order'], tenant.id, ref))
    )
    assert.deepEqual(
      failures.map((outcome) => outcome.status),
      ['rejected', 'rejected', 'rejected']
    )

    const placed = await placeOneUnitOrders(client, customers, product.id, 12)
    assert.lengthOf(new Set(placed), 12)
    assert.equal(await countWithStatus(tenant.id, 'pending'), 12)
    assert.equal(await outboxCount(tenant.id), 12)

    await redis.start()
    workers = startWorkers({ registry, concurrency: 2, sweep: FAST_SWEEP })
    await eventually(async () => (await countWithStatus(tenant.id, 'confirmed')) === 12, {
      message: 'the 12 orders placed while Redis was down confirmed',
    })
    assert.equal(await stockOf(tenant.id, product.id), 88)
    assert.equal(await ledgerSum(tenant.id, product.id), 88)
    await eventually(async () => (await outboxCount(tenant.id)) === 0)
  }).timeout(90_000)
})
