import router from '@adonisjs/core/services/router'
import vine from '@vinejs/vine'
import env from '#start/env'
import { middleware } from '#start/kernel'
import AppException from '#exceptions/app_exception'
import { currentTenant } from '#tenancy/context'
import { outboxInsertSql, relayAfterCommit } from '#queue/outbox'
import { JOBS } from '#queue/jobs'

/**
 * Routes that exist only in test runs (registered when a spec imports this
 * module, before the test server boots; never in start/routes.ts). They
 * are not in docs/openapi.yaml: call them with `testRouteFetch`, not the
 * contract-checked API client.
 *
 * `POST /api/__tests__/write-then-fail/:outcome` writes a product and its
 * outbox row, asks for the relay after commit (like placing an order),
 * then ends as `outcome` says: `ok` (201), `conflict` (409 thrown by the
 * handler), `validation` (422 from VineJS), `database` (a unique
 * violation from PostgreSQL, 409 mapped by SQLSTATE).
 *
 * `POST /api/__tests__/slow` sleeps in the database for `seconds`: past
 * DB_STATEMENT_TIMEOUT_MS it is cancelled.
 */
/** Where the test-only routes live (never documented, never in production). */
export const TEST_ROUTE_PREFIX = '/api/__tests__'

const needsName = vine.compile(vine.object({ name: vine.string().minLength(1) }))
let registered = false

export function registerTestRoutes() {
  if (registered) return
  registered = true
  router
    .group(() => {
      router.post('/write-then-fail/:outcome', async ({ params, request, response }) => {
        const { trx } = currentTenant()
        const sku = String(request.input('sku'))
        const { rows } = await trx.rawQuery(
          `with product as (
             insert into products (name, sku, price, stock) values (?, ?, 1, 0) returning id
           )
           ${outboxInsertSql(JOBS['confirm-order'].name, 'product')}
           returning ref_id as id`,
          [sku, sku]
        )
        relayAfterCommit(JOBS['confirm-order'], rows[0].id)
        if (params.outcome === 'conflict') throw AppException.conflict('Refused after writing')
        if (params.outcome === 'validation') await request.validateUsing(needsName)
        if (params.outcome === 'database') {
          await trx.rawQuery(`insert into products (name, sku, price, stock) values (?, ?, 1, 0)`, [
            sku,
            sku,
          ])
        }
        return response.created({ id: rows[0].id })
      })
      router.post('/slow', async ({ request }) => {
        const seconds = Number(request.input('seconds', 30))
        await currentTenant().trx.rawQuery('select pg_sleep(?)', [seconds])
        return { slept: seconds }
      })
    })
    .prefix(TEST_ROUTE_PREFIX)
    .use([middleware.auth(), middleware.tenant()])
}

/**
 * A request to a test-only route (no contract check: these routes are not
 * part of the API).
 */
export async function testRouteFetch(path: string, token: string, body: unknown = {}) {
  const response = await fetch(`http://${env.get('HOST')}:${env.get('PORT')}${path}`, {
    method: 'POST',
    headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  }
}
