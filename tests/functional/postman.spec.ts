import { existsSync, readFileSync } from 'node:fs'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import newman, { type NewmanRunSummary } from 'newman'
import { contract } from '#tests/support/openapi'

/**
 * docs/postman_collection.json, run with newman against the test HTTP
 * server: the whole flow from sign-up to a confirmed order, with every
 * response also held to docs/openapi.yaml.
 *
 * The flow waits for the order worker to confirm the order, so it runs
 * only where the worker exists (app/jobs/confirm_order.ts) and is running
 * for the test server's queue.
 */
const WORKER_MODULE = app.makePath('app/jobs/confirm_order.ts')

function runCollection(baseUrl: string) {
  const collection = JSON.parse(readFileSync(app.makePath('docs/postman_collection.json'), 'utf8'))
  const violations: string[] = []
  return new Promise<{ summary: NewmanRunSummary; violations: string[] }>((resolve, reject) => {
    newman
      .run(
        {
          collection,
          envVar: [{ key: 'baseUrl', value: baseUrl }],
          timeoutRequest: 10_000,
          timeoutScript: 5_000,
        },
        (error, summary) => (error ? reject(error) : resolve({ summary, violations }))
      )
      .on('request', (error, { request, response, item }) => {
        if (error || !response) return
        const headers = Object.fromEntries(
          Object.entries(response.headers.toObject()).map(([name, value]) => [
            name.toLowerCase(),
            value,
          ])
        )
        const text = response.text()
        let body: unknown
        try {
          body = text ? JSON.parse(text) : undefined
        } catch {
          body = undefined
        }
        const problems = contract().problems({
          method: request.method,
          url: request.url.toString(),
          status: response.code,
          headers,
          body,
          hasBody: text !== '',
          text,
        })
        for (const problem of problems) {
          violations.push(`${item.name} (${request.method} → ${response.code}): ${problem}`)
        }
      })
  })
}

test.group('Postman collection', (group) => {
  // The order worker, in this process, on the test server's queue (emptied
  // first: the database is new, job ids of an earlier run must not linger).
  let workers: { close(): Promise<void> } | undefined
  group.setup(async () => {
    if (!existsSync(WORKER_MODULE)) return
    const { resetQueues } = await import('#tests/support/orders')
    const { startWorkers } = await import('#queue/worker')
    const { registry } = await import('#jobs/main')
    await resetQueues()
    workers = startWorkers({ registry, concurrency: 2 })
  })
  group.teardown(async () => {
    await workers?.close()
  })

  test('runs the whole flow without a failure', async ({ assert }) => {
    const { summary, violations } = await runCollection(
      `http://${process.env.HOST}:${process.env.PORT}`
    )
    const failures = summary.run.failures.map(
      (failure) =>
        `${failure.source?.name ?? '?'}: ${failure.error.test ? `${failure.error.test}: ` : ''}${failure.error.message}`
    )
    assert.deepEqual(failures, [], 'newman failures')
    assert.deepEqual(violations, [], 'responses off docs/openapi.yaml')
    assert.equal(summary.run.stats.requests.failed, 0)
    assert.isAbove(summary.run.stats.assertions.total, 40)
  })
    .timeout(90_000)
    .skip(
      !existsSync(WORKER_MODULE),
      'needs the order worker (app/jobs/confirm_order.ts) to confirm the order'
    )
})
