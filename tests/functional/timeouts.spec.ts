import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { runtimeRole, transactionLimits } from '#config/database'
import { givenTenant } from '#tests/support/fixtures'
import { givenProduct } from '#tests/support/catalog'
import { registerTestRoutes, testRouteFetch } from '#tests/support/test_routes'

registerTestRoutes()

/**
 * One request cannot hold the database for long (issue 10 §4): a statement
 * or a lock wait past DB_STATEMENT_TIMEOUT_MS / DB_LOCK_TIMEOUT_MS (set
 * transaction-locally in the tenant entry) ends the request with 503 and
 * Retry-After, rolls its transaction back and releases its connection.
 */
const { statementTimeoutMs } = transactionLimits.request

/**
 * Runtime-role backends still busy with a test's work: inside a
 * transaction, or running a sleep.
 */
async function busyRuntimeBackends() {
  const { rows } = await db.rawQuery(
    `select count(*)::int as n from pg_stat_activity
     where usename = ? and datname = current_database()
       and (state like 'idle in transaction%' or (state = 'active' and query like '%pg_sleep%'))`,
    [runtimeRole.user]
  )
  return rows[0].n
}

/**
 * Holds a row lock on a product from the owner role's connection while
 * `fn` runs.
 */
async function whileLocked<T>(schema: string, productId: number, fn: () => Promise<T>) {
  const trx = await db.transaction()
  try {
    await trx.rawQuery(`select id from "${schema}".products where id = ? for update`, [productId])
    return await fn()
  } finally {
    await trx.rollback()
  }
}

test.group('Statement and lock timeouts', () => {
  test('a statement past its limit answers 503 with Retry-After and frees its connection', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const slow = await testRouteFetch('/api/__tests__/slow', tenant.owner.token, {
      seconds: Math.ceil((statementTimeoutMs * 10) / 1000),
    })
    assert.equal(slow.status, 503)
    assert.equal(slow.headers.get('retry-after'), '1')
    assert.deepEqual(slow.body, {
      errors: [
        {
          message: 'The request took too long in the database; retry later',
          code: 'E_SERVICE_UNAVAILABLE',
        },
      ],
    })
    assert.equal(await busyRuntimeBackends(), 0)
  })

  test('a lock wait past its limit answers 503 and keeps nothing of the request', async ({
    assert,
    client,
  }) => {
    const tenant = await givenTenant()
    const product = await givenProduct(tenant, { name: 'Locked' })
    const response = await whileLocked(tenant.schemaName, product.id, () =>
      client
        .patch(`/api/products/${product.id}/`)
        .bearerToken(tenant.owner.token)
        .json({ name: 'Changed' })
    )
    response.assertStatus(503)
    response.assertHeader('retry-after', '1')
    assert.equal(response.body().errors[0].code, 'E_SERVICE_UNAVAILABLE')
    const { rows } = await db.rawQuery(
      `select name from "${tenant.schemaName}".products where id = ?`,
      [product.id]
    )
    assert.equal(rows[0].name, 'Locked')
    assert.equal(await busyRuntimeBackends(), 0)
  })

  test("one tenant flooding slow statements and lock waits does not stop another tenant's reads", async ({
    assert,
    client,
  }) => {
    const flooder = await givenTenant()
    const locked = await givenProduct(flooder, { name: 'Contended' })
    const reader = await givenTenant()
    await givenProduct(reader, { name: 'Readable' })

    // 12 slow statements and 4 lock waits in flight: twice the pool
    // (DB_POOL_MAX=8 in tests). Each holds a connection for at most its
    // limit, so a read of another tenant waits at most about
    // ceil(16 / 8) statement timeouts for a connection. Bound asserted
    // (generous): every read succeeds, each within 4 statement timeouts + 10 s.
    const bound = statementTimeoutMs * 4 + 10_000
    const reads: { status: number; ms: number }[] = []
    let flooding = true

    await whileLocked(flooder.schemaName, locked.id, async () => {
      const flood = Promise.all([
        ...Array.from({ length: 12 }, () =>
          testRouteFetch('/api/__tests__/slow', flooder.owner.token, { seconds: 60 })
        ),
        ...Array.from({ length: 4 }, () =>
          client
            .patch(`/api/products/${locked.id}/`)
            .bearerToken(flooder.owner.token)
            .json({ name: 'Flood' })
        ),
      ]).finally(() => (flooding = false))

      while (flooding || reads.length < 3) {
        const started = performance.now()
        const read = await client.get('/api/products/').bearerToken(reader.owner.token)
        reads.push({ status: read.status(), ms: performance.now() - started })
      }
      const answers = await flood
      const statuses = answers.map((answer) =>
        'status' in answer && typeof answer.status === 'number'
          ? answer.status
          : (answer as any).status()
      )
      assert.deepEqual(
        statuses,
        Array.from({ length: 16 }, () => 503)
      )
    })

    assert.isAtLeast(reads.length, 3)
    for (const read of reads) {
      assert.equal(read.status, 200)
      assert.isBelow(read.ms, bound)
    }
    assert.equal(await busyRuntimeBackends(), 0)
  }).timeout(120_000)
})
