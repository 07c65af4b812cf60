import { test } from '@japa/runner'
import { givenProduct } from '#tests/support/catalog'
import { givenTenantWithCustomers } from '#tests/support/orders'
import { spawnApi, type ApiProcess } from '#tests/support/processes'
import { JOBS } from '#queue/jobs'
import { jobId, queue } from '#queue/queues'

/**
 * SIGTERM ends the API: the server stops taking connections, in-flight
 * requests finish, the providers close the pool and the Redis connections,
 * and the process exits 0, whatever it served before. A rolling deploy
 * depends on it: a process that never exits is killed, and the requests
 * it was still answering are cut.
 */
async function exitsWithin(api: ApiProcess, ms: number) {
  const exit = api.kill('SIGTERM')
  const timeout = new Promise<'still running'>((resolve) =>
    setTimeout(() => resolve('still running'), ms).unref()
  )
  return Promise.race([exit, timeout])
}

test.group('Reliability: the API on SIGTERM', (group) => {
  let api: ApiProcess | undefined
  group.each.teardown(async () => {
    await api?.kill('SIGKILL')
    api = undefined
  })

  test('exits 0 after serving reads', async ({ assert }) => {
    const { tenant } = await givenTenantWithCustomers(1)
    api = await spawnApi()
    const response = await fetch(`${api.url}/api/products/`, {
      headers: { authorization: `Bearer ${tenant.owner.token}` },
    })
    assert.equal(response.status, 200)
    assert.equal(await exitsWithin(api, 10_000), 0, api.output())
  })

  test('exits 0 after placing orders', async ({ assert }) => {
    const { tenant, customers } = await givenTenantWithCustomers(2)
    const product = await givenProduct(tenant, { stock: 50 })
    api = await spawnApi()
    const placed = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        fetch(`${api!.url}/api/orders/`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'authorization': `Bearer ${customers[index % 2].token}`,
          },
          body: JSON.stringify({ items: [{ product_id: product.id, qty: 1 }] }),
        }).then(async (response) => ({
          status: response.status,
          id: ((await response.json()) as { id: number }).id,
        }))
      )
    )
    assert.deepEqual(
      placed.map(({ status }) => status),
      Array(10).fill(202)
    )
    // The relays of the last placements may still be on their way to Redis:
    // the process waits for them, then closes its connections and exits.
    assert.equal(await exitsWithin(api, 10_000), 0, api.output())
    const job = JOBS['confirm-order']
    for (const { id } of placed) {
      assert.exists(await queue(job.queue).getJob(jobId(job.name, tenant.id, id)), `order ${id}`)
    }
  })
})
