/**
 * Queue floor worker: a bare BullMQ worker (same concurrency as the
 * application's) draining a queue the harness filled beforehand.
 *
 * - MODE=empty: each job does nothing; the cost of BullMQ itself.
 * - MODE=fetch: each job does one `fetch` POST to `job.data.url` (a
 *   receiver of the harness): the least a webhook delivery can do.
 * - MODE=transaction: each job runs one tenant transaction with `pg`:
 *   `BEGIN; set_config('search_path', …, true)` (one simple-protocol
 *   query), one locking read of a product row, `COMMIT`: three round trips,
 *   the least a confirmation can do.
 *
 * When COUNT jobs are done it prints one JSON line
 * `{"first": ms, "last": ms, "count": n}` (times from performance.now())
 * and exits.
 */
import { Worker } from 'bullmq'
import pg from 'pg'

const env = process.env
const count = Number(env.COUNT)
const mode = env.MODE
const pool =
  mode === 'transaction'
    ? new pg.Pool({
        host: env.DB_HOST,
        port: Number(env.DB_PORT),
        user: env.DB_USER,
        password: env.DB_PASSWORD || undefined,
        database: env.DB_DATABASE,
        max: Number(env.DB_POOL_MAX ?? 10),
      })
    : null

let first: number | null = null
let done = 0

async function transaction(data: { tenantId: number; productId: number }) {
  const client = await (pool as pg.Pool).connect()
  try {
    const tenantId = Number(data.tenantId)
    if (!Number.isSafeInteger(tenantId) || tenantId < 1) throw new Error('bad tenant id')
    await client.query(
      `begin; select set_config('search_path', '"tenant_${tenantId}", public', true)`
    )
    await client.query('select id, stock from products where id = $1 for update', [data.productId])
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const worker = new Worker(
  env.QUEUE_NAME as string,
  async (job) => {
    first ??= performance.now()
    if (mode === 'transaction') await transaction(job.data)
    if (mode === 'fetch') {
      const response = await fetch(job.data.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: job.id, type: 'floor', data: job.data }),
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      })
      await response.arrayBuffer()
      if (response.status >= 300) throw new Error(`receiver answered ${response.status}`)
    }
    if (++done === count) {
      const last = performance.now()
      process.stdout.write(`${JSON.stringify({ first, last, count })}\n`)
      setImmediate(async () => {
        await worker.close()
        await pool?.end()
        process.exit(0)
      })
    }
  },
  {
    connection: {
      host: env.REDIS_HOST,
      port: Number(env.REDIS_PORT),
      password: env.REDIS_PASSWORD || undefined,
      db: Number(env.REDIS_DB),
      maxRetriesPerRequest: null,
    },
    prefix: env.QUEUE_PREFIX,
    concurrency: Number(env.CONCURRENCY ?? 8),
  }
)

worker.on('failed', (_job, error) => {
  process.stderr.write(`job failed: ${error.message}\n`)
})
