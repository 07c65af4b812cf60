import type { BenchContext } from '../lib/context.ts'
import { readTenant } from '../lib/fixtures.ts'
import { anomalies, load } from '../lib/load.ts'
import { Child, freePort, tsNodeArgs, waitForHttp } from '../lib/processes.ts'

export const READ_PATH = '/api/products/?per_page=20'

/**
 * Read floor: bench/floors/read_floor_server.ts (bare node:http + pg, three
 * round trips per request) under the read scenario's load: same tenant,
 * same token, same connections and duration, same pool size.
 */
export async function measureReadFloor(ctx: BenchContext) {
  const tenant = await readTenant(ctx)
  const port = await freePort()
  const child = new Child(
    'read floor server',
    process.execPath,
    tsNodeArgs('bench/floors/read_floor_server.ts'),
    { ...ctx.env.common, PORT: String(port) }
  )
  try {
    const url = `http://127.0.0.1:${port}`
    await waitForHttp(`${url}/health/live`, child)
    const options = {
      url,
      path: READ_PATH,
      connections: ctx.sizes.connections,
      headers: { authorization: `Bearer ${tenant.owner.token}` },
    }
    await load({ ...options, duration: 1 })
    const result = await load({ ...options, duration: ctx.sizes.readSeconds })
    const unexpected = anomalies(result)
    if (unexpected) throw new Error(`read floor answered ${unexpected}`)
    ctx.floors.read = { rps: result.rps, p50: result.p50, p99: result.p99 }
    ctx.log(`read floor: ${Math.round(result.rps)} req/s, p99 ${result.p99?.toFixed(1)} ms`)
  } finally {
    await child.stop()
  }
}
