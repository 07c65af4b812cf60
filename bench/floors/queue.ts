import { Queue } from 'bullmq'
import type { BenchContext } from '../lib/context.ts'
import { orderTenants, pick } from '../lib/fixtures.ts'
import { runToEnd, tsNodeArgs } from '../lib/processes.ts'

const PREFIX = 'benchfloor'

function redisConnection(ctx: BenchContext) {
  return {
    host: ctx.env.common.REDIS_HOST,
    port: Number(ctx.env.common.REDIS_PORT),
    password: ctx.env.common.REDIS_PASSWORD || undefined,
    db: ctx.env.redisDb,
    maxRetriesPerRequest: null,
  }
}

/**
 * Fills a queue with `count` jobs, then starts the bare worker
 * (bench/floors/queue_floor_worker.ts) and measures how fast it drains it:
 * jobs / (end of the last job - start of the first).
 */
export async function drain(
  ctx: BenchContext,
  mode: 'empty' | 'transaction' | 'fetch',
  count: number,
  data: () => Record<string, unknown>,
  concurrency: string | number = ctx.env.common.WORKER_CONCURRENCY
): Promise<number> {
  const name = `floor-${mode}`
  const queue = new Queue(name, { connection: redisConnection(ctx), prefix: PREFIX })
  try {
    await queue.obliterate({ force: true })
    for (let offset = 0; offset < count; offset += 1000) {
      const size = Math.min(1000, count - offset)
      await queue.addBulk(
        Array.from({ length: size }, (_, index) => ({
          name: 'floor',
          data: { ...data(), n: offset + index },
          opts: { removeOnComplete: true, removeOnFail: 1000 },
        }))
      )
    }
    const result = await runToEnd(
      process.execPath,
      tsNodeArgs('bench/floors/queue_floor_worker.ts'),
      {
        env: {
          ...ctx.env.common,
          QUEUE_NAME: name,
          QUEUE_PREFIX: PREFIX,
          MODE: mode,
          COUNT: String(count),
          CONCURRENCY: String(concurrency),
        },
        timeoutMs: 180_000,
      }
    )
    const line = result.output
      .split('\n')
      .reverse()
      .find((text) => text.startsWith('{"first"'))
    if (result.code !== 0 || !line) {
      throw new Error(`queue floor worker (${mode}) failed:\n${result.output.slice(-1500)}`)
    }
    const { first, last } = JSON.parse(line) as { first: number; last: number }
    return count / ((last - first) / 1000)
  } finally {
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close()
  }
}

/**
 * Queue floor: BullMQ with the application's worker concurrency, draining
 * empty jobs, then jobs that each run one tenant transaction with pg
 * (spread over the order tenants and their products, like the pipeline).
 */
export async function measureQueueFloor(ctx: BenchContext) {
  const tenants = await orderTenants(ctx)
  const empty = await drain(ctx, 'empty', ctx.sizes.queueEmptyJobs, () => ({}))
  ctx.floors.queueEmpty = { rate: empty }
  ctx.log(`queue floor: ${Math.round(empty)} empty jobs/s`)
  const transaction = await drain(ctx, 'transaction', ctx.sizes.queueTransactionJobs, () => {
    const tenant = pick(tenants)
    return { tenantId: tenant.id, productId: pick(tenant.productIds) }
  })
  ctx.floors.queueTransaction = { rate: transaction }
  ctx.log(`queue floor: ${Math.round(transaction)} single-transaction jobs/s`)
}
