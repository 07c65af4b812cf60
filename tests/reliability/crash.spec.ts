import type { ProductRow } from '#models/product'
import { givenProduct } from '#tests/support/catalog'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import type { GivenTenant, GivenUser } from '#tests/support/fixtures'
import {
  eventually,
  ledgerSum,
  movementsOf,
  orderStatuses,
  outboxCount,
  stockOf,
  finalCount,
  placeOneUnitOrders,
  givenTenantWithCustomers,
} from '#tests/support/orders'
import { privateRedis, runAce, spawnWorker, type WorkerProcess } from '#tests/support/processes'
import { queue } from '#queue/queues'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Holds the product row locked from another connection: every
 * confirmation job that reaches it waits there, in the middle of its
 * transaction (the order row already locked).
 */
async function lockProduct(tenantId: number, productId: number) {
  const trx: TransactionClientContract = await db.transaction()
  await trx.rawQuery(
    `select id from ${quoteIdent(tenantSchema(tenantId))}.products where id = ? for update`,
    [productId]
  )
  return trx
}

async function assertConsistent(
  assert: any,
  tenantId: number,
  product: ProductRow,
  orders: number,
  stock: number
) {
  const { confirmed = 0, rejected = 0, ...others } = await orderStatuses(tenantId)
  assert.deepEqual(others, {})
  assert.equal(confirmed, Math.min(orders, stock))
  assert.equal(rejected, orders - Math.min(orders, stock))
  assert.equal(await stockOf(tenantId, product.id), stock - Math.min(orders, stock))
  assert.equal(await ledgerSum(tenantId, product.id), stock - Math.min(orders, stock))
  const taken = await movementsOf(tenantId, { kind: 'order' })
  assert.lengthOf(taken, Math.min(orders, stock))
  assert.lengthOf(new Set(taken.map((m) => m.order_id)), taken.length)
  assert.equal(await outboxCount(tenantId), 0)
}

test.group('Reliability: worker processes', (group) => {
  let tenant: GivenTenant
  let customers: GivenUser[]
  const started: WorkerProcess[] = []

  group.each.setup(async () => {
    ;({ tenant, customers } = await givenTenantWithCustomers(4))
    return async () => {
      for (const worker of started.splice(0)) await worker.kill('SIGKILL')
    }
  })

  test('a worker killed with SIGKILL mid-burst: after a restart every order is final, none taken twice', async ({
    client,
    assert,
    cleanup,
  }) => {
    const product = await givenProduct(tenant, { stock: 30 })
    const first = await spawnWorker({ WORKER_CONCURRENCY: '4' })
    started.push(first)

    await placeOneUnitOrders(client, customers, product.id, 10)
    await eventually(async () => (await finalCount(tenant.id)) === 10, {
      message: 'first 10 final',
    })

    const lock = await lockProduct(tenant.id, product.id)
    // Released on any failure too: a lock left behind would stall every later test.
    cleanup(() => lock.rollback().catch(() => {}))
    await placeOneUnitOrders(client, customers, product.id, 50)
    await eventually(async () => (await queue('orders').getActiveCount()) >= 1, {
      message: 'jobs running in the first worker',
    })
    await first.kill('SIGKILL')
    await lock.rollback()

    const second = await spawnWorker({ WORKER_CONCURRENCY: '4' })
    started.push(second)
    await eventually(async () => (await finalCount(tenant.id)) === 60, {
      timeoutMs: 100_000,
      message: 'all 60 orders final after the restart',
    })
    await assertConsistent(assert, tenant.id, product, 60, 30)
  }).timeout(150_000)

  test('SIGTERM lets the running jobs finish, then the worker exits', async ({
    client,
    assert,
    cleanup,
  }) => {
    const product = await givenProduct(tenant, { stock: 100 })
    const worker = await spawnWorker({ WORKER_CONCURRENCY: '2' })
    started.push(worker)

    const lock = await lockProduct(tenant.id, product.id)
    cleanup(() => lock.rollback().catch(() => {}))
    await placeOneUnitOrders(client, customers, product.id, 6)
    await eventually(async () => (await queue('orders').getActiveCount()) >= 1, {
      message: 'jobs running',
    })
    const exit = worker.kill('SIGTERM')
    await eventually(async () => worker.output().includes('waiting for running jobs'), {
      message: 'the worker stopping',
    })
    await lock.commit()
    assert.equal(await exit, 0)
    assert.include(worker.output(), 'worker stopped')

    // The jobs it was running finished; the others wait for the next worker.
    const statuses = await orderStatuses(tenant.id)
    assert.isAtLeast(statuses.confirmed ?? 0, 1)
    const next = await spawnWorker({ WORKER_CONCURRENCY: '2' })
    started.push(next)
    await eventually(async () => (await finalCount(tenant.id)) === 6, { message: '6 final' })
    await assertConsistent(assert, tenant.id, product, 6, 100)
  }).timeout(120_000)

  test('the worker refuses to start on a Redis that evicts keys', async ({ assert }) => {
    const redis = await privateRedis(['--maxmemory-policy', 'allkeys-lru'])
    await redis.start()
    try {
      const { code, output } = await runAce(['queue:work'], {
        REDIS_PORT: String(redis.port),
        REDIS_DB: '0',
        REDIS_CLUSTER_NODES: '',
      })
      assert.equal(code, 1)
      assert.include(output, 'maxmemory-policy is "allkeys-lru"')
      assert.include(output, 'noeviction')
    } finally {
      await redis.stop()
    }
  }).timeout(60_000)

  test('queue:status reports the queues and the oldest pending order', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 5 })
    await placeOneUnitOrders(client, customers, product.id, 2)
    const { code, output } = await runAce(['queue:status', '--json'])
    assert.equal(code, 0, output)
    const status = JSON.parse(output.slice(output.indexOf('{')))
    assert.deepEqual(
      status.queues.map((entry: { name: string }) => entry.name),
      ['orders', 'stock-adjustments', 'webhooks']
    )
    assert.isAtLeast(status.queues[0].waiting, 2)
    assert.isAtLeast(status.pending_orders, 2)
    assert.isNotNull(status.oldest_pending_order)
  }).timeout(60_000)
})
