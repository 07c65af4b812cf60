import type { BenchContext } from '../lib/context.ts'
import { readTenant } from '../lib/fixtures.ts'
import { anomalies, load, type LoadResult } from '../lib/load.ts'
import { Child, freePort, tsNodeArgs, waitForHttp } from '../lib/processes.ts'

export const READ_PATH = '/api/products/?per_page=20'

/**
 * Read floor: bench/floors/read_floor_server.ts (bare node:http + pg, three
 * round trips per request) under the read scenario's load: same tenant,
 * same token, same connections, same pool size.
 */
export async function startReadFloor(ctx: BenchContext) {
  const port = await freePort()
  const child = new Child(
    'read floor server',
    process.execPath,
    tsNodeArgs('bench/floors/read_floor_server.ts'),
    { ...ctx.env.common, PORT: String(port) }
  )
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${url}/health/live`, child)
  } catch (error) {
    await child.stop()
    throw error
  }
  return { url, stop: () => child.stop() }
}

export function recordReadFloor(ctx: BenchContext, result: LoadResult) {
  const unexpected = anomalies(result)
  if (unexpected) throw new Error(`read floor answered ${unexpected}`)
  ctx.floors.read = { rps: result.rps, p50: result.p50, p99: result.p99 }
  ctx.log(`read floor: ${Math.round(result.rps)} req/s, p99 ${result.p99?.toFixed(1)} ms`)
}

/**
 * The floor alone, for scenarios compared to it when the read scenario
 * (which measures it interleaved with the API) did not run.
 */
export async function measureReadFloor(ctx: BenchContext) {
  if (ctx.floors.read) return
  const tenant = await readTenant(ctx)
  const floor = await startReadFloor(ctx)
  try {
    const options = {
      url: floor.url,
      path: READ_PATH,
      connections: ctx.sizes.connections,
      headers: { authorization: `Bearer ${tenant.owner.token}` },
    }
    await load({ ...options, duration: 1 })
    recordReadFloor(ctx, await load({ ...options, duration: ctx.sizes.readSeconds }))
  } finally {
    await floor.stop()
  }
}
