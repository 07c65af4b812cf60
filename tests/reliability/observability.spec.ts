import { spawn } from 'node:child_process'
import { givenProduct } from '#tests/support/catalog'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { freePort, spawnWorker, type WorkerProcess } from '#tests/support/processes'
import {
  eventually,
  finalCount,
  givenTenantWithCustomers,
  placeOneUnitOrders,
} from '#tests/support/orders'
import { signUpBody } from '#tests/support/auth'
import { labelNames, valueOf } from '#tests/support/metrics'

/**
 * What an operator watches, read from real processes: a worker's /metrics
 * and its JSON log lines (one child logger per job), and the API's log
 * lines (one child logger per request, with tenant and user once
 * authenticated).
 */
function jsonLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
}

test.group('Observability: worker metrics and job logs', (group) => {
  let worker: WorkerProcess | undefined
  group.each.teardown(async () => {
    await worker?.kill('SIGTERM')
    worker = undefined
  })

  test('jobs move the worker counters and histogram; every job line names job, queue and tenant', async ({
    client,
    assert,
  }) => {
    const { tenant, customers } = await givenTenantWithCustomers(2)
    const product = await givenProduct(tenant, { stock: 1 })
    const port = await freePort()
    const token = 'worker-metrics-token-of-this-test'
    worker = await spawnWorker({
      WORKER_METRICS_PORT: String(port),
      METRICS_TOKEN: token,
      WORKER_CONCURRENCY: '2',
    })
    assert.include(worker.output(), `:${port}/metrics`)
    const url = `http://127.0.0.1:${port}/metrics`
    const scrape = async () => {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(response.status, 200)
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
      return response.text()
    }

    const anonymous = await fetch(url)
    assert.equal(anonymous.status, 401)
    assert.deepEqual(await anonymous.json(), {
      errors: [{ message: 'A valid metrics token is required', code: 'E_UNAUTHORIZED_ACCESS' }],
    })

    const before = await scrape()
    // One unit of stock, two orders: one confirmed, one rejected.
    const orderIds = await placeOneUnitOrders(client, customers, product.id, 2)
    await eventually(async () => (await finalCount(tenant.id)) === 2, { message: 'both orders' })
    const after = await eventually(async () => {
      const text = await scrape()
      return valueOf(text, 'worker_job_duration_seconds_count', {
        queue: 'orders',
        job: 'confirm-order',
        outcome: 'rejected',
      }) >
        valueOf(before, 'worker_job_duration_seconds_count', {
          queue: 'orders',
          job: 'confirm-order',
          outcome: 'rejected',
        })
        ? text
        : null
    })
    assert.isString(after)
    if (!after) return

    for (const outcome of ['confirmed', 'rejected']) {
      const labels = { queue: 'orders', job: 'confirm-order', outcome }
      assert.equal(
        valueOf(after, 'worker_jobs_total', labels) - valueOf(before, 'worker_jobs_total', labels),
        1,
        outcome
      )
      assert.equal(
        valueOf(after, 'worker_job_duration_seconds_count', labels) -
          valueOf(before, 'worker_job_duration_seconds_count', labels),
        1
      )
    }
    assert.include(after, '# TYPE webhook_deliveries_total counter')
    assert.include(after, 'db_pool_connections{state="in_use"}')
    // No label per tenant (cardinality); help texts may name tenants.
    for (const label of labelNames(after)) assert.notMatch(label, /tenant|user/)

    // The log: a `job done` line per order with its outcome, under its
    // job's id (an order confirmed in another job's batch is logged by that
    // job, with `batched_by`; its own job, if it was already running, says
    // `skipped` in a line of its own).
    const lines = (await eventually(async () => {
      const done = jsonLines(worker!.output()).filter(
        (line) =>
          line.msg === 'job done' && line.tenant_id === tenant.id && line.outcome !== 'skipped'
      )
      return done.length === 2 ? done : null
    })) as Record<string, any>[]
    assert.sameMembers(
      lines.map((line) => line.job_id),
      orderIds.map((id) => `confirm-order:${tenant.id}:${id}`)
    )
    for (const line of lines) {
      assert.equal(line.queue, 'orders')
      assert.equal(line.job, 'confirm-order')
      assert.oneOf(line.outcome, ['confirmed', 'rejected'])
    }
    for (const line of jsonLines(worker.output()).filter((entry) => 'job_id' in entry)) {
      assert.properties(line, ['job_id', 'queue', 'tenant_id'])
    }
  }).timeout(120_000)
})

test.group('Observability: request logs', () => {
  test('every request line carries the request id, and the tenant and user once known', async ({
    assert,
    cleanup,
  }) => {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', '@poppinss/ts-exec', 'bin/server.ts'], {
      cwd: app.makePath(),
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout!.on('data', (chunk) => (output += chunk))
    child.stderr!.on('data', (chunk) => (output += chunk))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    cleanup(async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    })
    await eventually(
      async () => output.includes('started HTTP server') || child.exitCode !== null,
      {
        message: 'the API to start',
      }
    )
    assert.isNull(child.exitCode, output)

    const base = `http://127.0.0.1:${port}`
    const body = signUpBody()
    const signUp = await fetch(`${base}/api/auth/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'ops-test-register' },
      body: JSON.stringify(body),
    })
    assert.equal(signUp.status, 201)
    const { access, user, tenant } = (await signUp.json()) as any

    for (const [id, path] of [
      ['ops-test-me', '/api/auth/me/'],
      ['ops-test-products', '/api/products/?search=x'],
      ['ops-test-missing', '/api/products/987654321/'],
    ]) {
      const answer = await fetch(`${base}${path}`, {
        headers: { 'authorization': `Bearer ${access}`, 'x-request-id': id },
      })
      assert.oneOf(answer.status, [200, 404])
    }

    const lines = (await eventually(async () => {
      const found = jsonLines(output).filter((line) =>
        String(line.request_id).startsWith('ops-test-')
      )
      return found.length >= 4 ? found : null
    })) as Record<string, any>[]
    const byId = (id: string) => lines.filter((line) => line.request_id === id)
    for (const id of [
      'ops-test-register',
      'ops-test-me',
      'ops-test-products',
      'ops-test-missing',
    ]) {
      assert.isNotEmpty(byId(id), id)
      for (const line of byId(id)) {
        assert.equal(line.tenant_id, tenant.id, `${id}: ${JSON.stringify(line)}`)
        assert.equal(line.user_id, user.id)
      }
    }
    const missing = byId('ops-test-missing').find((line) => line.msg === 'request completed')
    assert.equal(missing?.status, 404)
    assert.equal(missing?.route, '/api/products/:id')
    // Every line logged while serving a request names it.
    for (const line of jsonLines(output).filter((entry) => entry.msg === 'request completed')) {
      assert.property(line, 'request_id')
    }
  }).timeout(120_000)
})
