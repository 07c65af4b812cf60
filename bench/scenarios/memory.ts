import type autocannon from 'autocannon'
import { READ_PATH } from '../floors/read.ts'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { orderTenants, readTenant, writeTenant } from '../lib/fixtures.ts'
import { anomalies, load, type LoadResult } from '../lib/load.ts'
import { sampleMemory, soakSummary, type MemorySample } from '../lib/memory.ts'
import {
  orderBody,
  ordersUnavailable,
  request,
  roundRobinOrders,
  unavailable,
  waitUntilSettled,
} from '../lib/orders.ts'
import { Child, freePort, productionNodeFlags, waitForHttp } from '../lib/processes.ts'
import { blocked, compared, type Row } from '../lib/report.ts'
import { round, sleep } from '../lib/stats.ts'

/**
 * memory: the resident set (RSS, `ps -o rss`) and the V8 heap used of an
 * API process of its own, started for this scenario (so "idle" is idle
 * after start, whatever ran before), and of a worker of its own:
 *
 * 1. idle, a few seconds after start;
 * 2. after `reads` of the read load (GET /api/products/?per_page=20 of the
 *    read tenant, 50 connections);
 * 3. through a mixed soak of `soak`: reads (20 connections), orders
 *    (60/s over the order tenants, confirmed by the worker), product
 *    creations (10/s), sampled every `every` seconds. Reported: the value
 *    at the end of the warm-up (the soak's first `warmup`), at the end, the
 *    highest sample, and the least-squares slope after the warm-up.
 *
 * Targets: API RSS ≤ 250 MB under load; RSS and heap flat after the
 * warm-up (slope ≤ 1 MB/min, i.e. ≤ 8 MB over the 8 minutes after warm-up;
 * judged on a full run only).
 * The heap is read from the processes' own Prometheus metrics
 * (prom-client's `nodejs_heap_size_used_bytes`; the worker serves them on
 * WORKER_METRICS_PORT), the way a production scrape reads it. MB here are
 * MiB (ps reports KiB).
 */
const FULL = { reads: 120, soak: 600, warmup: 120, every: 15 }
const QUICK = { reads: 15, soak: 60, warmup: 20, every: 3 }
const RSS_TARGET_MB = 250
const FLAT_MB_PER_MIN = 1

let sku = 0
const productBody = () =>
  JSON.stringify({
    name: `Bench memory ${++sku}`,
    sku: `M-${process.pid}-${Date.now().toString(36)}-${sku}`,
    price: '9.99',
    stock: 10,
  })

interface Process {
  child: Child
  metricsUrl: string
}

async function startApi(ctx: BenchContext): Promise<Process & { url: string }> {
  const port = await freePort()
  const args = ['build/bin/server.js']
  const child = new Child(
    'api (memory)',
    process.execPath,
    [...productionNodeFlags('start', args), ...args],
    { ...ctx.env.common, PORT: String(port), PGAPPNAME: 'bench-api-memory' }
  )
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${url}/health/ready`, child)
  } catch (error) {
    await child.stop()
    throw error
  }
  return { child, url, metricsUrl: `${url}/metrics` }
}

async function startWorker(ctx: BenchContext): Promise<Process> {
  const port = await freePort()
  const args = ['build/ace.js', 'queue:work']
  const child = new Child(
    'worker (memory)',
    process.execPath,
    [...productionNodeFlags('worker', args), ...args],
    { ...ctx.env.common, WORKER_METRICS_PORT: String(port), PGAPPNAME: 'bench-worker-memory' }
  )
  const metricsUrl = `http://127.0.0.1:${port}/metrics`
  try {
    await waitForHttp(metricsUrl, child)
  } catch (error) {
    await child.stop()
    throw error
  }
  return { child, metricsUrl }
}

const mb = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : `${value.toFixed(0)} MB`

function describe(sample: MemorySample) {
  return `heap used ${mb(sample.heapUsedMiB)} of ${mb(sample.heapTotalMiB)}, external ${mb(sample.externalMiB)}`
}

export const memory: Scenario = {
  name: 'memory',
  needs: { api: true, worker: true },
  async run(ctx: BenchContext): Promise<Row[]> {
    const times = ctx.quick ? QUICK : FULL
    const reader = await readTenant(ctx)
    const writer = await writeTenant(ctx)
    const tenants = await orderTenants(ctx)
    const targets: Array<[string, string?]> = [
      ['API RSS after reads', `≤ ${RSS_TARGET_MB} MB`],
      ['API RSS, soak end', `≤ ${RSS_TARGET_MB} MB`],
      ['API RSS slope after warm-up', 'flat'],
    ]
    const probe = await request(ctx, 'GET', READ_PATH, reader.owner.token)
    const problem =
      unavailable('GET /api/products/', probe, 200) ??
      (await ordersUnavailable(ctx, tenants[0])) ??
      unavailable(
        'POST /api/products/',
        await request(ctx, 'POST', '/api/products/', writer.owner.token, JSON.parse(productBody())),
        201
      )
    if (problem) return blocked('memory', targets, problem)
    if (!ctx.worker.available) {
      return blocked('memory', targets, { reason: ctx.worker.reason ?? 'no worker', missing: true })
    }

    // This scenario's own worker (with its metrics port) replaces the shared one meanwhile.
    const sharedWorker = ctx.worker.running
    await ctx.worker.stop()
    let worker: Process | undefined
    let api: (Process & { url: string }) | undefined
    const started = Date.now()
    const seconds = () => (Date.now() - started) / 1000
    try {
      worker = await startWorker(ctx)
      api = await startApi(ctx)
      const sample = (proc: Process, at = seconds()) =>
        sampleMemory(proc.child.process.pid, proc.metricsUrl, at)

      await sleep(3000)
      const apiIdle = await sample(api)
      const workerIdle = await sample(worker)
      ctx.log(`memory: idle API RSS ${mb(apiIdle.rssMiB)}, ${describe(apiIdle)}`)

      const readLoad = (connections: number, duration: number) =>
        load({
          url: api!.url,
          path: READ_PATH,
          connections,
          duration,
          headers: { authorization: `Bearer ${reader.owner.token}` },
        })
      const reads = await readLoad(ctx.sizes.connections, times.reads)
      const apiReads = await sample(api)
      ctx.log(
        `memory: after ${times.reads} s of reads (${Math.round(reads.rps)} req/s) API RSS ${mb(apiReads.rssMiB)}, ${describe(apiReads)}`
      )

      // The soak: reads, orders and product creations at once, sampled as they run.
      const soakStart = seconds()
      const apiSamples: MemorySample[] = []
      const workerSamples: MemorySample[] = []
      let soaking = true
      const sampler = (async () => {
        while (soaking) {
          const at = seconds() - soakStart
          const [a, w] = await Promise.all([sample(api!, at), sample(worker!, at)])
          apiSamples.push(a)
          workerSamples.push(w)
          const wait = times.every * 1000 - (seconds() - soakStart - at) * 1000
          await sleep(Math.max(0, wait))
        }
      })()
      let results: LoadResult[]
      try {
        results = await Promise.all([
          readLoad(20, times.soak),
          load({
            url: api.url,
            path: '/api/orders/',
            method: 'POST',
            connections: 10,
            overallRate: 60,
            duration: times.soak,
            body: orderBody(tenants[0]),
            expect: (status) => status === 202,
            setupRequest: roundRobinOrders(tenants),
          }),
          load({
            url: api.url,
            path: '/api/products/',
            method: 'POST',
            connections: 4,
            overallRate: 10,
            duration: times.soak,
            headers: { authorization: `Bearer ${writer.owner.token}` },
            body: productBody(),
            expect: (status) => status === 201,
            setupRequest: (req: autocannon.Request) => {
              req.body = productBody()
              return req
            },
          }),
        ])
      } finally {
        soaking = false
        await sampler
      }
      const [soakReads, soakOrders, soakProducts] = results
      const last = {
        api: await sample(api, seconds() - soakStart),
        worker: await sample(worker, seconds() - soakStart),
      }
      apiSamples.push(last.api)
      workerSamples.push(last.worker)
      const settled = await waitUntilSettled(
        ctx,
        tenants.map((tenant) => tenant.id),
        ctx.sizes.settleSeconds * 1000
      )
      if (!settled) ctx.log('memory: the order backlog did not drain in time')

      const apiRss = soakSummary(apiSamples, (s) => s.rssMiB, times.warmup)
      const apiHeap = soakSummary(apiSamples, (s) => s.heapUsedMiB, times.warmup)
      const workerRss = soakSummary(workerSamples, (s) => s.rssMiB, times.warmup)
      const workerHeap = soakSummary(workerSamples, (s) => s.heapUsedMiB, times.warmup)
      const soakNote = [
        `${times.soak} s soak (warm-up ${times.warmup} s, ${apiSamples.length} samples every ${times.every} s)`,
        `reads ${Math.round(soakReads.rps)} req/s, orders ${Math.round(soakOrders.rps)}/s, products ${Math.round(soakProducts.rps)}/s`,
        [
          anomalies(soakReads),
          anomalies(soakOrders, (s) => s === 202),
          anomalies(soakProducts, (s) => s === 201),
        ]
          .filter(Boolean)
          .join(', '),
      ]
        .filter(Boolean)
        .join('; ')
      const row = (
        metric: string,
        value: number | null,
        options: { target?: string; max?: number; note?: string; unit?: string } = {}
      ) =>
        compared(
          {
            scenario: 'memory',
            metric,
            value: round(value, 1),
            unit: options.unit ?? 'MB',
            target: options.target,
            note: options.note,
          },
          options.max === undefined ? {} : { absoluteMax: options.max }
        )
      const rssTarget = { target: `≤ ${RSS_TARGET_MB} MB`, max: RSS_TARGET_MB }
      // A slope over the quick soak's 40 s is the GC sawtooth, not growth: no verdict.
      const flat = {
        target: `flat (≤ ${FLAT_MB_PER_MIN} MB/min)`,
        max: ctx.quick ? undefined : FLAT_MB_PER_MIN,
        unit: 'MB/min',
        note: ctx.quick ? '--quick: too short a soak to judge a slope' : undefined,
      }
      return [
        row('API RSS idle', apiIdle.rssMiB, { note: describe(apiIdle) }),
        row('API heap used idle', apiIdle.heapUsedMiB),
        row(`API RSS after ${times.reads} s of reads`, apiReads.rssMiB, {
          ...rssTarget,
          note: `${describe(apiReads)}; ${Math.round(reads.rps)} req/s, 50 connections${anomalies(reads) ? `; ${anomalies(reads)}` : ''}`,
        }),
        row(`API heap used after ${times.reads} s of reads`, apiReads.heapUsedMiB),
        row('API RSS, soak warm-up', apiRss.warmup, { ...rssTarget, note: soakNote }),
        row('API RSS, soak end', apiRss.end, { ...rssTarget, note: describe(last.api) }),
        row('API RSS, soak highest sample', apiRss.max, rssTarget),
        row('API RSS slope after warm-up', apiRss.slope, flat),
        row('API heap used, soak warm-up', apiHeap.warmup),
        row('API heap used, soak end', apiHeap.end),
        row('API heap used slope after warm-up', apiHeap.slope, flat),
        row('worker RSS idle', workerIdle.rssMiB, { note: describe(workerIdle) }),
        row('worker RSS, soak end', workerRss.end, {
          note: `${describe(last.worker)}; highest sample ${mb(workerRss.max)}`,
        }),
        row('worker RSS slope after warm-up', workerRss.slope, { unit: 'MB/min' }),
        row('worker heap used, soak end', workerHeap.end, {
          note: `slope after warm-up ${workerHeap.slope?.toFixed(2) ?? '—'} MB/min`,
        }),
      ]
    } finally {
      await api?.child.stop()
      await worker?.child.stop(15_000)
      if (sharedWorker) await ctx.worker.start().catch((error) => ctx.log(`worker: ${error}`))
      ctx.log(`memory: ${Math.round((Date.now() - started) / 1000)} s with its own API and worker`)
    }
  },
}
