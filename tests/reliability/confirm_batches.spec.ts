import type { ApiClient } from '@japa/api-client'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { test } from '@japa/runner'
import { givenProduct } from '#tests/support/catalog'
import db from '#tests/support/platform_db'
import type { GivenTenant, GivenUser } from '#tests/support/fixtures'
import {
  eventually,
  finalCount,
  givenTenantWithCustomers,
  ledgerSum,
  movementsOf,
  orderStatuses,
  outboxCount,
  placeOneUnitOrders,
  stockOf,
} from '#tests/support/orders'
import { spawnWorker, type WorkerProcess } from '#tests/support/processes'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { CONFIRM_BATCH_SIZE, confirmOrder, confirmOrders } from '#jobs/confirm_order'
import { queue, queueRedis } from '#queue/queues'
import { counterKey } from '#queue/fairness'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { deliveriesOf } from '#tests/support/webhooks'

/**
 * A confirmation job takes its own order and up to CONFIRM_BATCH_SIZE - 1
 * other pending orders of its tenant in one transaction
 * (docs/design/outbox.md, "Confirming in batches").
 */

function schemaOf(tenantId: number) {
  return quoteIdent(tenantSchema(tenantId))
}

async function place(
  client: ApiClient,
  customer: GivenUser,
  items: { product_id: number; qty: number }[]
): Promise<number> {
  const response = await client.post('/api/orders/').bearerToken(customer.token).json({ items })
  response.assertStatus(202)
  return response.body().id as number
}

async function ordersOf(tenantId: number) {
  const { rows } = await db.rawQuery(
    `select id, status, rejection_reason, confirmed_at from ${schemaOf(tenantId)}.orders order by id`
  )
  return rows as {
    id: number
    status: string
    rejection_reason: string | null
    confirmed_at: Date | null
  }[]
}

/** Confirmation transactions, told apart by the time of their one UPDATE. */
async function confirmationTimes(tenantId: number): Promise<number> {
  const { rows } = await db.rawQuery(
    `select count(distinct confirmed_at)::int as n from ${schemaOf(tenantId)}.orders`
  )
  return rows[0].n
}

/** Every ordered unit of the product that was confirmed, from the order lines. */
async function confirmedUnits(tenantId: number, productId: number): Promise<number> {
  const { rows } = await db.rawQuery(
    `select coalesce(sum(i.qty), 0)::int as n from ${schemaOf(tenantId)}.order_items i
     join ${schemaOf(tenantId)}.orders o on o.id = i.order_id
     where o.status = 'confirmed' and i.product_id = ?`,
    [productId]
  )
  return rows[0].n
}

async function queuedJobs(): Promise<number> {
  const counts = await queue('orders').getJobCounts('prioritized', 'waiting', 'active', 'delayed')
  return counts.prioritized + counts.waiting + counts.active + counts.delayed
}

/**
 * Every movement of kind `order` is one line of one confirmed order, with
 * the line's quantity, once.
 */
async function assertMovementsMatchLines(assert: any, tenantId: number) {
  const { rows } = await db.rawQuery(
    `select
       (select count(*)::int from ${schemaOf(tenantId)}.stock_movements where kind = 'order') as movements,
       (select count(*)::int from ${schemaOf(tenantId)}.order_items i
          join ${schemaOf(tenantId)}.orders o on o.id = i.order_id where o.status = 'confirmed') as lines,
       (select count(*)::int from ${schemaOf(tenantId)}.stock_movements m
          join ${schemaOf(tenantId)}.order_items i on i.order_id = m.order_id and i.product_id = m.product_id
          join ${schemaOf(tenantId)}.orders o on o.id = m.order_id
          where m.kind = 'order' and o.status = 'confirmed' and m.delta = -i.qty) as matching`
  )
  assert.equal(rows[0].movements, rows[0].lines)
  assert.equal(rows[0].matching, rows[0].lines)
}

test.group('Reliability: confirming orders in batches', (group) => {
  let tenant: GivenTenant
  let customers: GivenUser[]
  const handles: WorkerHandle[] = []
  const processes: WorkerProcess[] = []

  group.each.setup(async () => {
    ;({ tenant, customers } = await givenTenantWithCustomers(4))
    return async () => {
      for (const handle of handles.splice(0)) await handle.close()
      for (const worker of processes.splice(0)) await worker.kill('SIGKILL')
    }
  })

  test('a backlog of one tenant is confirmed in batches; the other jobs are removed and counted', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 1000 })
    const count = 3 * CONFIRM_BATCH_SIZE + 4
    await placeOneUnitOrders(client, customers, product.id, count)
    await eventually(async () => (await queuedJobs()) === count, { message: 'all jobs queued' })

    const outcomes: string[] = []
    handles.push(
      startWorkers({
        registry: { ...registry, observe: (_queue, _job, outcome) => outcomes.push(outcome) },
        concurrency: 1,
      })
    )
    await eventually(async () => (await finalCount(tenant.id)) === count, {
      message: `${count} orders final`,
    })
    await eventually(async () => (await queuedJobs()) === 0, { message: 'no job left' })

    assert.deepEqual(await orderStatuses(tenant.id), { confirmed: count })
    // One job at a time, oldest first: four transactions of at most 32 orders.
    assert.equal(await confirmationTimes(tenant.id), Math.ceil(count / CONFIRM_BATCH_SIZE))
    assert.equal(await stockOf(tenant.id, product.id), 1000 - count)
    assert.equal(await ledgerSum(tenant.id, product.id), 1000 - count)
    await assertMovementsMatchLines(assert, tenant.id)
    assert.equal(await outboxCount(tenant.id), 0)
    // Every order counted once in the worker's metrics, as confirmed; the
    // jobs of the batched ones never ran.
    await eventually(async () => outcomes.length === count, { message: 'every order counted' })
    assert.deepEqual([...new Set(outcomes)], ['confirmed'])
    const completed = await queue('orders').getJobCounts('completed')
    assert.equal(completed.completed, Math.ceil(count / CONFIRM_BATCH_SIZE))
    // The tenant's fairness counter went back to zero (key deleted).
    assert.isNull(await queueRedis().get(counterKey('orders', tenant.id)))
  }).timeout(120_000)

  test('one batch confirms and rejects in id order against the stock left by earlier orders', async ({
    client,
    assert,
  }) => {
    const scarce = await givenProduct(tenant, { stock: 3 })
    const plenty = await givenProduct(tenant, { stock: 100 })
    const gone = await givenProduct(tenant, { stock: 100 })
    const customer = customers[0]
    const ids = [
      await place(client, customer, [{ product_id: scarce.id, qty: 2 }]),
      // needs 2 of scarce, 1 left: rejected, and plenty is not touched
      await place(client, customer, [
        { product_id: scarce.id, qty: 2 },
        { product_id: plenty.id, qty: 5 },
      ]),
      await place(client, customer, [
        { product_id: scarce.id, qty: 1 },
        { product_id: plenty.id, qty: 7 },
      ]),
      await place(client, customer, [{ product_id: scarce.id, qty: 1 }]),
      await place(client, customer, [{ product_id: gone.id, qty: 1 }]),
      await place(client, customer, [{ product_id: plenty.id, qty: 90 }]),
    ]
    await db.rawQuery(`delete from ${schemaOf(tenant.id)}.products where id = ?`, [gone.id])

    // The job of the third order runs first: it takes all six.
    const result = await confirmOrders({ tenantId: tenant.id, refId: ids[2] }, CONFIRM_BATCH_SIZE)
    assert.equal(result.outcome, 'confirmed')
    assert.deepEqual(result.batch, [
      { refId: ids[0], outcome: 'confirmed' },
      { refId: ids[1], outcome: 'rejected' },
      { refId: ids[3], outcome: 'rejected' },
      { refId: ids[4], outcome: 'rejected' },
      { refId: ids[5], outcome: 'confirmed' },
    ])

    const orders = await ordersOf(tenant.id)
    assert.deepEqual(
      orders.map((order) => order.status),
      ['confirmed', 'rejected', 'confirmed', 'rejected', 'rejected', 'confirmed']
    )
    assert.equal(
      orders[1].rejection_reason,
      `Insufficient stock for product ${scarce.id} (${scarce.sku}, "${scarce.name}"): 2 requested, 1 available`
    )
    assert.equal(
      orders[3].rejection_reason,
      `Insufficient stock for product ${scarce.id} (${scarce.sku}, "${scarce.name}"): 1 requested, 0 available`
    )
    assert.equal(
      orders[4].rejection_reason,
      `Product ${gone.id} (${gone.sku}, "${gone.name}") no longer exists`
    )
    for (const order of orders) {
      if (order.status === 'confirmed') assert.isNotNull(order.confirmed_at)
      else assert.isNull(order.confirmed_at)
    }
    assert.equal(await stockOf(tenant.id, scarce.id), 0)
    assert.equal(await ledgerSum(tenant.id, scarce.id), 0)
    assert.equal(await stockOf(tenant.id, plenty.id), 3)
    assert.equal(await ledgerSum(tenant.id, plenty.id), 3)
    await assertMovementsMatchLines(assert, tenant.id)
    assert.equal(await outboxCount(tenant.id), 0)

    // Confirming the last order afterwards: nothing left, nothing moves.
    assert.equal(await confirmOrder({ tenantId: tenant.id, refId: ids[5] }), 'skipped')
    assert.lengthOf(await movementsOf(tenant.id, { kind: 'order' }), 4)
  })

  test('one batch records the event of every order it decides, each with its deliveries', async ({
    client,
    assert,
  }) => {
    const owner = tenant.owner.token
    const subscribe = async (events: string[]) => {
      const response = await client
        .post('/api/webhooks/')
        .bearerToken(owner)
        .json({ url: 'http://127.0.0.1:9/hooks', events })
      response.assertStatus(201)
      return response.body().id as number
    }
    const both = await subscribe(['order.confirmed', 'order.rejected'])
    const rejectedOnly = await subscribe(['order.rejected'])
    await subscribe(['order.shipped'])

    const product = await givenProduct(tenant, { stock: 2 })
    const customer = customers[0]
    const ids: number[] = []
    for (let index = 0; index < 5; index++) {
      ids.push(await place(client, customer, [{ product_id: product.id, qty: 1 }]))
    }
    const result = await confirmOrders({ tenantId: tenant.id, refId: ids[0] }, CONFIRM_BATCH_SIZE)
    assert.lengthOf(result.batch, 4)

    const { rows: events } = await db.rawQuery(
      `select id, uid, type, body from ${schemaOf(tenant.id)}.webhook_events
       where type <> 'order.created' order by id`
    )
    // The orders in id order within each outcome: 2 confirmed, 3 rejected.
    assert.deepEqual(
      events.map((event: any) => [event.type, JSON.parse(event.body).data.id]),
      [
        ['order.confirmed', ids[0]],
        ['order.confirmed', ids[1]],
        ['order.rejected', ids[2]],
        ['order.rejected', ids[3]],
        ['order.rejected', ids[4]],
      ]
    )
    for (const [index, event] of events.entries()) {
      const body = JSON.parse(event.body)
      assert.equal(body.id, event.uid)
      assert.equal(body.tenant_id, tenant.id)
      // The order as the API shows it after the batch.
      const shown = await client.get(`/api/orders/${ids[index]}/`).bearerToken(owner)
      assert.deepEqual(body.data, shown.body())
    }
    assert.lengthOf(new Set(events.map((event: any) => event.uid)), 5)

    const deliveries = await deliveriesOf(tenant.id)
    const byEvent = (uid: string) =>
      deliveries.filter((delivery) => delivery.uid === uid).map((d) => d.endpoint_id)
    assert.deepEqual(byEvent(events[0].uid), [both])
    assert.deepEqual(byEvent(events[1].uid), [both])
    for (const event of events.slice(2)) assert.deepEqual(byEvent(event.uid), [both, rejectedOnly])
    const { rows } = await db.rawQuery(
      `select count(*)::int as n from ${schemaOf(tenant.id)}.outbox where job = 'deliver-webhook'`
    )
    assert.equal(rows[0].n, deliveries.length)
  })

  test('a job whose order another job confirmed in its batch is skipped, with no second movement', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 10 })
    const ids = await placeOneUnitOrders(client, customers, product.id, 3)
    await eventually(async () => (await queuedJobs()) === 3, { message: 'jobs queued' })
    const [first, ...others] = [...ids].sort((a, b) => a - b)

    // A direct call finishes no job: all three jobs stay queued.
    const result = await confirmOrders({ tenantId: tenant.id, refId: first }, CONFIRM_BATCH_SIZE)
    assert.deepEqual(
      result.batch.map((entry) => entry.refId),
      others
    )
    assert.equal(await stockOf(tenant.id, product.id), 7)

    const outcomes: string[] = []
    handles.push(
      startWorkers({
        registry: { ...registry, observe: (_queue, _job, outcome) => outcomes.push(outcome) },
        concurrency: 2,
      })
    )
    await eventually(async () => outcomes.length === 3, { message: 'the three jobs ran' })
    assert.deepEqual(outcomes, ['skipped', 'skipped', 'skipped'])
    assert.equal(await stockOf(tenant.id, product.id), 7)
    assert.equal(await ledgerSum(tenant.id, product.id), 7)
    for (const id of ids) {
      const movements = await movementsOf(tenant.id, { orderId: id })
      assert.deepEqual(
        movements.map((m) => [m.kind, m.delta]),
        [['order', -1]]
      )
    }
  })

  test('concurrent workers over the same products never oversell', async ({ client, assert }) => {
    const a = await givenProduct(tenant, { stock: 40 })
    const b = await givenProduct(tenant, { stock: 25 })
    const shapes = [
      [{ product_id: a.id, qty: 1 }],
      [{ product_id: b.id, qty: 1 }],
      [
        { product_id: a.id, qty: 2 },
        { product_id: b.id, qty: 1 },
      ],
      [
        { product_id: b.id, qty: 2 },
        { product_id: a.id, qty: 1 },
      ],
    ]
    // Two worker "processes" with 8 jobs each, started before the orders
    // arrive, so batches of the same tenant run side by side.
    handles.push(startWorkers({ registry, concurrency: 8 }))
    handles.push(startWorkers({ registry, concurrency: 8 }))
    const count = 120
    await Promise.all(
      Array.from({ length: count }, (_, index) =>
        place(client, customers[index % customers.length], shapes[index % shapes.length])
      )
    )
    await eventually(async () => (await finalCount(tenant.id)) === count, {
      timeoutMs: 60_000,
      message: `${count} orders final`,
    })

    for (const [product, initial] of [
      [a, 40],
      [b, 25],
    ] as const) {
      const stock = await stockOf(tenant.id, product.id)
      assert.isAtLeast(stock, 0)
      assert.equal(await ledgerSum(tenant.id, product.id), stock)
      assert.equal(await confirmedUnits(tenant.id, product.id), initial - stock)
    }
    await assertMovementsMatchLines(assert, tenant.id)
    assert.equal(await outboxCount(tenant.id), 0)
    // Orders placed while a batch ran and taken by it: never confirmed
    // before they were created.
    const { rows: early } = await db.rawQuery(
      `select count(*)::int as n from ${schemaOf(tenant.id)}.orders where confirmed_at < created_at`
    )
    assert.equal(early[0].n, 0)
    const { rejected = 0 } = await orderStatuses(tenant.id)
    assert.isAbove(rejected, 0)
    assert.deepEqual(
      handles.flatMap((handle) => handle.failures.map((failure) => failure.error.message)),
      []
    )
  }).timeout(90_000)

  test('a worker killed in the middle of a batch: nothing lost, nothing taken twice', async ({
    client,
    assert,
    cleanup,
  }) => {
    const product = await givenProduct(tenant, { stock: 25 })
    const count = 40
    await placeOneUnitOrders(client, customers, product.id, count)
    await eventually(async () => (await queuedJobs()) === count, { message: 'jobs queued' })

    // The product is held locked elsewhere: the first batch locks its
    // orders, then waits on the product, in the middle of its transaction.
    const lock: TransactionClientContract = await db.transaction()
    cleanup(() => lock.rollback().catch(() => {}))
    await lock.rawQuery(`select id from ${schemaOf(tenant.id)}.products where id = ? for update`, [
      product.id,
    ])
    const first = await spawnWorker({ WORKER_CONCURRENCY: '1' })
    processes.push(first)
    // Seen from outside: more orders locked than the one of the running job.
    const lockedOrders = async () => {
      const probe: TransactionClientContract = await db.transaction()
      try {
        const { rows } = await probe.rawQuery(
          `select count(*)::int as n from (
             select id from ${schemaOf(tenant.id)}.orders where status = 'pending'
             for update skip locked) free`
        )
        return count - rows[0].n
      } finally {
        await probe.rollback()
      }
    }
    await eventually(async () => (await lockedOrders()) === CONFIRM_BATCH_SIZE, {
      message: 'a batch holding its orders',
    })
    await first.kill('SIGKILL')
    await lock.rollback()
    assert.deepEqual(await orderStatuses(tenant.id), { pending: count })

    const second = await spawnWorker({ WORKER_CONCURRENCY: '4' })
    processes.push(second)
    await eventually(async () => (await finalCount(tenant.id)) === count, {
      timeoutMs: 100_000,
      message: 'all orders final after the restart',
    })
    assert.deepEqual(await orderStatuses(tenant.id), { confirmed: 25, rejected: 15 })
    assert.equal(await stockOf(tenant.id, product.id), 0)
    assert.equal(await ledgerSum(tenant.id, product.id), 0)
    const taken = await movementsOf(tenant.id, { kind: 'order' })
    assert.lengthOf(taken, 25)
    assert.lengthOf(new Set(taken.map((m) => m.order_id)), 25)
    assert.equal(await outboxCount(tenant.id), 0)
  }).timeout(150_000)
})
