import { givenProduct } from '#tests/support/catalog'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import type { ApiClient } from '@japa/api-client'
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
  givenTenantWithCustomers,
} from '#tests/support/orders'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { confirmOrder } from '#jobs/confirm_order'
import { queue } from '#queue/queues'

async function placeAll(
  client: ApiClient,
  orders: { customer: GivenUser; items: { product_id: number; qty: number }[] }[]
): Promise<number[]> {
  const responses = await Promise.all(
    orders.map(({ customer, items }) =>
      client.post('/api/orders/').bearerToken(customer.token).json({ items })
    )
  )
  return responses.map((response) => {
    response.assertStatus(202)
    return response.body().id as number
  })
}

async function allFinal(tenantId: number, count: number) {
  return (await finalCount(tenantId)) === count ? orderStatuses(tenantId) : null
}

test.group('Reliability: concurrency', (group) => {
  let tenant: GivenTenant
  let customers: GivenUser[]
  let workers: WorkerHandle | undefined

  group.each.setup(async () => {
    ;({ tenant, customers } = await givenTenantWithCustomers(6))
    return async () => {
      await workers?.close()
      workers = undefined
    }
  })

  test('60 concurrent one-unit orders against a stock of 20: exactly 20 confirmed', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 20 })
    workers = startWorkers({ registry, concurrency: 8 })
    await placeAll(
      client,
      Array.from({ length: 60 }, (_, index) => ({
        customer: customers[index % customers.length],
        items: [{ product_id: product.id, qty: 1 }],
      }))
    )

    const statuses = await eventually(() => allFinal(tenant.id, 60), {
      message: '60 final orders',
    })
    assert.deepEqual(statuses, { confirmed: 20, rejected: 40 })
    assert.equal(await stockOf(tenant.id, product.id), 0)
    assert.equal(await ledgerSum(tenant.id, product.id), 0)
    const taken = await movementsOf(tenant.id, { kind: 'order' })
    assert.lengthOf(taken, 20)
    assert.equal(await outboxCount(tenant.id), 0)
  })

  test('multi-line orders over the same products in opposite orders never deadlock', async ({
    client,
    assert,
  }) => {
    const products = await Promise.all(
      Array.from({ length: 4 }, () => givenProduct(tenant, { stock: 1000 }))
    )
    const ids = products.map((product) => product.id)
    workers = startWorkers({ registry, concurrency: 8 })
    await placeAll(
      client,
      Array.from({ length: 48 }, (_, index) => {
        const order = index % 2 === 0 ? ids : [...ids].reverse()
        return {
          customer: customers[index % customers.length],
          items: order.map((productId, line) => ({ product_id: productId, qty: 1 + line })),
        }
      })
    )

    const statuses = await eventually(() => allFinal(tenant.id, 48), {
      message: '48 final orders',
    })
    assert.deepEqual(statuses, { confirmed: 48 })
    // Every job ran once and succeeded: a deadlock (40P01) would have
    // failed an attempt.
    assert.deepEqual(
      workers.failures.map((failure) => failure.error.message),
      []
    )
    for (const [position, product] of products.entries()) {
      // Half of the orders put the product at line `position`, half at the mirrored line.
      const perPair = 1 + position + (1 + (3 - position))
      assert.equal(await stockOf(tenant.id, product.id), 1000 - 24 * perPair)
      assert.equal(await ledgerSum(tenant.id, product.id), 1000 - 24 * perPair)
    }
  })

  test('a job delivered twice (or many times at once) changes nothing the second time', async ({
    client,
    assert,
  }) => {
    const product = await givenProduct(tenant, { stock: 5 })
    const [orderId] = await placeAll(client, [
      { customer: customers[0], items: [{ product_id: product.id, qty: 2 }] },
    ])

    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => confirmOrder({ tenantId: tenant.id, refId: orderId }))
    )
    assert.equal(outcomes.filter((outcome) => outcome === 'confirmed').length, 1)
    assert.equal(outcomes.filter((outcome) => outcome === 'skipped').length, 4)

    // The queue delivers it again under other job ids.
    workers = startWorkers({ registry, concurrency: 4 })
    const copies = [1, 2, 3].map((copy) => `confirm-order-copy${copy}-${tenant.id}-${orderId}`)
    for (const jobId of copies) {
      await queue('orders').add('confirm-order', { tenantId: tenant.id, refId: orderId }, { jobId })
    }
    await eventually(
      async () => {
        const states = await Promise.all(copies.map((jobId) => queue('orders').getJobState(jobId)))
        return states.every((state) => state === 'completed')
      },
      { message: 'the copies completed' }
    )

    assert.equal(await stockOf(tenant.id, product.id), 3)
    assert.equal(await ledgerSum(tenant.id, product.id), 3)
    const movements = await movementsOf(tenant.id, { orderId })
    assert.deepEqual(
      movements.map((m) => [m.kind, m.delta]),
      [['order', -2]]
    )
  })

  test('fairness: one order of a quiet tenant is not stuck behind a flooding tenant', async ({
    client,
    assert,
  }) => {
    const flooding = tenant
    const floodProduct = await givenProduct(flooding, { stock: 100_000 })
    await placeAll(
      client,
      Array.from({ length: 120 }, (_, index) => ({
        customer: customers[index % customers.length],
        items: [{ product_id: floodProduct.id, qty: 1 }],
      }))
    )
    const quiet = await givenTenant()
    const quietCustomer = await givenUser(quiet, 'customer')
    const quietProduct = await givenProduct(quiet, { stock: 10 })
    const [quietOrder] = await placeAll(client, [
      { customer: quietCustomer, items: [{ product_id: quietProduct.id, qty: 1 }] },
    ])

    // Everything is queued before any worker runs; one job at a time.
    await eventually(async () => {
      const counts = await queue('orders').getJobCounts('prioritized', 'waiting')
      return counts.prioritized + counts.waiting === 121
    })
    workers = startWorkers({ registry, concurrency: 1 })
    await eventually(async () => (await countWithStatus(quiet.id, 'confirmed')) === 1, {
      message: `quiet tenant's order ${quietOrder} confirmed`,
    })
    // With one job at a time, confirmation times order the jobs: at most a
    // couple of the flood's jobs (those sharing its priority) went first.
    // A job confirms a batch of its tenant's orders in one transaction, so
    // the orders of one job share their confirmed_at (the time of its
    // one UPDATE): jobs are counted as distinct confirmation times. (With a
    // constant priority, 120 orders take 4 batches of 32 before the quiet one.)
    const { rows: quietRows } = await db.rawQuery(
      `select confirmed_at from ${quoteIdent(tenantSchema(quiet.id))}.orders where id = ?`,
      [quietOrder]
    )
    const { rows: before } = await db.rawQuery(
      `select count(distinct confirmed_at)::int as n from ${quoteIdent(tenantSchema(flooding.id))}.orders
       where status <> 'pending' and confirmed_at < ?`,
      [quietRows[0].confirmed_at]
    )
    assert.isAtMost(before[0].n, 2)
  })
})
