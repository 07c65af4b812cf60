import { test } from '@japa/runner'
import { JOBS } from '#queue/jobs'
import db from '#tests/support/platform_db'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import { registerTestRoutes, testRouteFetch } from '#tests/support/test_routes'
import { queueForJob } from '#queue/queues'

registerTestRoutes()

/**
 * The request transaction is all or nothing seen from the client
 * (issue 10 §1): the framework renders what a controller throws and lets
 * the middleware chain resolve, so the tenant middleware must roll back on
 * any error response, and the outbox relay must publish only after a real
 * commit. Proven over HTTP with a test-only route that writes a product
 * and its outbox row, asks for the relay, then fails.
 */
async function rowsWithSku(tenant: GivenTenant, sku: string) {
  const { rows } = await db.rawQuery(
    `select (select count(*) from "${tenant.schemaName}".products where sku = ?) as products,
            (select count(*) from "${tenant.schemaName}".outbox o
              join "${tenant.schemaName}".products p on p.id = o.ref_id where p.sku = ?) as outbox`,
    [sku, sku]
  )
  return rows[0]
}

/**
 * The ids of every confirm-order job published for the tenant, in any state.
 */
async function publishedFor(tenant: GivenTenant): Promise<number[]> {
  const jobs = await queueForJob(JOBS['confirm-order']).getJobs([
    'waiting',
    'prioritized',
    'active',
    'delayed',
    'completed',
    'failed',
  ])
  return jobs
    .filter((job) => job?.data?.tenantId === tenant.id)
    .map((job) => job.data.refId)
    .sort((a, b) => a - b)
}

async function waitForPublished(tenant: GivenTenant, refId: number) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const published = await publishedFor(tenant)
    if (published.includes(refId)) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`job for ${refId} was never published`)
}

test.group('Request transaction rolls back on every error', () => {
  test('a handler that writes then answers {outcome} keeps nothing and publishes nothing')
    .with([
      { outcome: 'conflict', status: 409, code: 'E_CONFLICT' },
      { outcome: 'validation', status: 422, code: 'E_VALIDATION_ERROR' },
      { outcome: 'database', status: 409, code: 'E_CONFLICT' },
    ])
    .run(async ({ assert }, { outcome, status, code }) => {
      const tenant = await givenTenant()
      const sku = `ROLLBACK-${outcome}`
      const failed = await testRouteFetch(
        `/api/__tests__/write-then-fail/${outcome}`,
        tenant.owner.token,
        { sku }
      )
      assert.equal(failed.status, status)
      assert.equal(failed.body.errors[0].code, code)
      assert.deepEqual(await rowsWithSku(tenant, sku), { products: 0, outbox: 0 })

      // A successful request of the same tenant afterwards commits and is
      // published; once its job is in the queue, a job of the failed request
      // would be too (same process, same Redis connection, earlier).
      const ok = await testRouteFetch('/api/__tests__/write-then-fail/ok', tenant.owner.token, {
        sku: `${sku}-ok`,
      })
      assert.equal(ok.status, 201)
      assert.deepEqual(await rowsWithSku(tenant, `${sku}-ok`), { products: 1, outbox: 1 })
      await waitForPublished(tenant, ok.body.id)
      assert.deepEqual(await publishedFor(tenant), [ok.body.id])
    })
})
