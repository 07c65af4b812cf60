import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import type { GivenTenant, GivenUser } from '#tests/support/fixtures'
import { givenProduct } from '#tests/support/catalog'
import {
  eventually,
  finalCount,
  givenTenantWithCustomers,
  ledgerSum,
  movementsOf,
  orderStatuses,
  outboxCount,
  stockOf,
} from '#tests/support/orders'
import {
  spawnApi,
  spawnWorker,
  type ApiProcess,
  type WorkerProcess,
} from '#tests/support/processes'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Two API processes and three worker processes on one database and one
 * Redis, as a scaled-out deployment runs. Orders and stock adjustments are
 * placed through both APIs while workers are killed (SIGKILL) and replaced
 * at random. The sweepers of every worker run often and look at work only
 * 1.5 s old, so they race each other, the relays of both APIs and the
 * workers all along.
 */
const WORKER_ENV = {
  WORKER_CONCURRENCY: '4',
  SWEEP_INTERVAL_MS: '300',
  SWEEP_AGE_MS: '1500',
  SWEEP_MAX_DUTY_PERCENT: '100',
}
const ORDERS = 80
const ORDER_STOCK = 40
const ADJUSTMENTS = 12
const KILLS = 5

async function post(api: ApiProcess, path: string, token: string, body: unknown) {
  const response = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as any }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1))

test.group('Reliability: two APIs, three workers, workers killed at random', (group) => {
  let tenant: GivenTenant
  let customers: GivenUser[]
  const apis: ApiProcess[] = []
  const workers: WorkerProcess[] = []
  const booting: Promise<void>[] = []

  group.each.setup(async () => {
    ;({ tenant, customers } = await givenTenantWithCustomers(6))
    return async () => {
      await Promise.allSettled(booting.splice(0))
      await Promise.all(workers.splice(0).map((worker) => worker.kill('SIGKILL')))
      await Promise.all(apis.splice(0).map((api) => api.kill('SIGKILL')))
    }
  })

  test('every order and adjustment is final, stock and ledger agree, no effect twice', async ({
    assert,
  }) => {
    const forOrders = await givenProduct(tenant, { stock: ORDER_STOCK })
    const forAdjustments = await givenProduct(tenant, { stock: 1_000 })
    apis.push(...(await Promise.all([spawnApi(), spawnApi()])))
    workers.push(...(await Promise.all([1, 2, 3].map(() => spawnWorker(WORKER_ENV)))))

    // The chaos: KILLS times, a random worker dies and a new one is started
    // (without waiting for it: kills go on while replacements boot).
    let kills = 0
    const chaos = (async () => {
      for (; kills < KILLS; kills++) {
        await pause(randomInt(200, 900))
        while (workers.length === 0) await pause(50)
        const [victim] = workers.splice(randomInt(0, workers.length - 1), 1)
        await victim.kill('SIGKILL')
        booting.push(spawnWorker(WORKER_ENV).then((worker) => void workers.push(worker)))
      }
    })()

    // Meanwhile, waves of orders and adjustments through both APIs.
    const orderIds: number[] = []
    const adjustments: { id: number; delta: number }[] = []
    for (let wave = 0; wave < 4; wave++) {
      const placed = await Promise.all(
        Array.from({ length: ORDERS / 4 }, (_, index) =>
          post(apis[index % 2], '/api/orders/', customers[index % customers.length].token, {
            items: [{ product_id: forOrders.id, qty: 1 }],
          })
        )
      )
      for (const response of placed) {
        assert.equal(response.status, 202, JSON.stringify(response.body))
        orderIds.push(response.body.id)
      }
      const adjusted = await Promise.all(
        Array.from({ length: ADJUSTMENTS / 4 }, (_, index) => {
          const delta = randomInt(1, 9)
          return post(
            apis[(index + wave) % 2],
            `/api/products/${forAdjustments.id}/stock-adjustments/`,
            tenant.owner.token,
            { delta, reason: `wave ${wave}` }
          ).then((response) => ({ response, delta }))
        })
      )
      for (const { response, delta } of adjusted) {
        assert.equal(response.status, 202, JSON.stringify(response.body))
        adjustments.push({ id: response.body.id, delta })
      }
      await pause(randomInt(100, 600))
    }
    await chaos
    await Promise.all(booting)
    assert.equal(kills, KILLS)
    assert.lengthOf(workers, 3)

    const schema = quoteIdent(tenantSchema(tenant.id))
    const pendingAdjustments = async () => {
      const { rows } = await db.rawQuery(
        `select count(*)::int as n from ${schema}.stock_adjustments where status = 'pending'`
      )
      return rows[0].n as number
    }
    await eventually(
      async () => (await finalCount(tenant.id)) === ORDERS && (await pendingAdjustments()) === 0,
      { timeoutMs: 120_000, message: 'every order and adjustment final' }
    )
    await eventually(async () => (await outboxCount(tenant.id)) === 0, {
      message: 'outbox empty',
    })

    // Orders: exactly the stock was sold, each confirmed order took its
    // unit once, a rejected one took nothing.
    assert.deepEqual(await orderStatuses(tenant.id), {
      confirmed: ORDER_STOCK,
      rejected: ORDERS - ORDER_STOCK,
    })
    assert.equal(await stockOf(tenant.id, forOrders.id), 0)
    assert.equal(await ledgerSum(tenant.id, forOrders.id), 0)
    const taken = await movementsOf(tenant.id, { kind: 'order' })
    assert.lengthOf(taken, ORDER_STOCK)
    assert.lengthOf(new Set(taken.map((movement) => movement.order_id)), ORDER_STOCK)
    const { rows: confirmed } = await db.rawQuery(
      `select id from ${schema}.orders where status = 'confirmed'`
    )
    assert.sameMembers(
      taken.map((movement) => movement.order_id),
      confirmed.map((row: { id: number }) => row.id)
    )
    assert.includeMembers(
      orderIds,
      confirmed.map((row: { id: number }) => row.id)
    )

    // Adjustments: each applied once, with its own delta.
    const { rows: statuses } = await db.rawQuery(
      `select status, count(*)::int as n from ${schema}.stock_adjustments group by status`
    )
    assert.deepEqual(statuses, [{ status: 'applied', n: ADJUSTMENTS }])
    const adjustmentMovements = await movementsOf(tenant.id, { kind: 'adjustment' })
    const applied = adjustmentMovements.map((movement) => [movement.adjustment_id, movement.delta])
    assert.sameDeepMembers(
      applied,
      adjustments.map(({ id, delta }) => [id, delta])
    )
    const total = 1_000 + adjustments.reduce((sum, { delta }) => sum + delta, 0)
    assert.equal(await stockOf(tenant.id, forAdjustments.id), total)
    assert.equal(await ledgerSum(tenant.id, forAdjustments.id), total)
  }).timeout(240_000)
})
