import { test } from '@japa/runner'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import { eventually, resetQueues } from '#tests/support/orders'
import { freePort, runAce, spawnWorker, type WorkerProcess } from '#tests/support/processes'
import { startReceiver, verifiedBy, type Receiver } from '#tests/support/webhooks'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import webhooksConfig from '#config/webhooks'

/**
 * Webhook deliveries when things break: a receiver that is down, a worker
 * killed in the middle of an HTTP call, a slow endpoint next to healthy
 * ones. Real receivers on loopback, real worker processes.
 */
async function subscribe(client: any, tenant: GivenTenant, receiver: Receiver) {
  const response = await client
    .post('/api/webhooks/')
    .bearerToken(tenant.owner.token)
    .json({ url: receiver.url, events: ['*'] })
  response.assertStatus(201)
  return response.body() as { id: number; secret: string }
}

async function ping(client: any, tenant: GivenTenant, endpointId: number): Promise<string> {
  const response = await client
    .post(`/api/webhooks/${endpointId}/ping/`)
    .bearerToken(tenant.owner.token)
  response.assertStatus(202)
  return response.body().event_id
}

async function deliveryOf(client: any, tenant: GivenTenant, endpointId: number) {
  const response = await client
    .get(`/api/webhooks/${endpointId}/deliveries/`)
    .bearerToken(tenant.owner.token)
  return response.body().data[0] as
    { status: string; attempts: number; last_error: string | null; event_id: string } | undefined
}

test.group('Reliability: webhook receivers', (group) => {
  let workers: WorkerHandle | undefined
  const concurrency = webhooksConfig.concurrency
  group.each.setup(async () => {
    await resetQueues()
  })
  const retryWindowMs = webhooksConfig.retryWindowMs
  const perTenant = webhooksConfig.perTenant
  const perEndpoint = webhooksConfig.perEndpoint
  group.each.teardown(async () => {
    await workers?.close()
    workers = undefined
    webhooksConfig.concurrency = concurrency
    webhooksConfig.retryWindowMs = retryWindowMs
    webhooksConfig.perTenant = perTenant
    webhooksConfig.perEndpoint = perEndpoint
  })

  test('webhooks:status and queue:status show the backlog and the failing endpoints', async ({
    client,
    assert,
  }) => {
    webhooksConfig.retryWindowMs = 0
    const tenant = await givenTenant()
    const receiver = await startReceiver(() => 500)
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      workers = startWorkers({ registry, concurrency: 2 })
      await ping(client, tenant, endpoint.id)
      await eventually(async () => {
        const delivery = await deliveryOf(client, tenant, endpoint.id)
        return delivery?.status === 'failed'
      })
      await workers.close()
      workers = undefined
      await ping(client, tenant, endpoint.id)

      const { code, output } = await runAce(['webhooks:status', '--json'])
      assert.equal(code, 0, output)
      const status = JSON.parse(output.slice(output.indexOf('{')))
      assert.isAtLeast(status.deliveries.pending, 1)
      assert.isAtLeast(status.deliveries.failed, 1)
      assert.isNotNull(status.oldest_pending)
      assert.isAtLeast(status.queue.waiting, 1)
      const failing = status.failing_endpoints.find(
        (entry: any) => entry.tenant_id === tenant.id && entry.endpoint_id === endpoint.id
      )
      assert.deepInclude(failing, { consecutive_failures: 1, is_active: true, url: receiver.url })

      const queues = await runAce(['queue:status', '--json'])
      assert.equal(queues.code, 0, queues.output)
      const overall = JSON.parse(queues.output.slice(queues.output.indexOf('{')))
      assert.include(
        overall.queues.map((entry: { name: string }) => entry.name),
        'webhooks'
      )
      assert.isAtLeast(overall.webhook_deliveries.pending, 1)

      const text = await runAce(['webhooks:status'])
      assert.match(text.output, /Deliveries: \d+ pending, \d+ delivered, \d+ failed/)
      assert.include(text.output, receiver.url)
      await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(tenant.owner.token)
    } finally {
      await receiver.close()
    }
  }).timeout(60_000)

  test('a receiver down for a while, then up: delivered, with the same id', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receiver = await startReceiver(() => 200, { port: await freePort(), listen: false })
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      workers = startWorkers({ registry, concurrency: 2 })
      const eventId = await ping(client, tenant, endpoint.id)
      const failing = await eventually(async () => {
        const delivery = await deliveryOf(client, tenant, endpoint.id)
        return delivery && delivery.attempts >= 3 ? delivery : null
      })
      assert.equal(failing!.status, 'pending')
      assert.match(failing!.last_error!, /ECONNREFUSED/)

      await receiver.listen()
      const delivered = await eventually(async () => {
        const delivery = await deliveryOf(client, tenant, endpoint.id)
        return delivery?.status === 'delivered' ? delivery : null
      })
      assert.isAbove(delivered!.attempts, 3)
      assert.lengthOf(receiver.requests, 1)
      assert.equal(receiver.requests[0].headers['webhook-id'], eventId)
      assert.isTrue(verifiedBy(endpoint.secret, receiver.requests[0]))
    } finally {
      await receiver.close()
    }
  })

  test('one slow endpoint does not hold back the other endpoints of its tenant', async ({
    client,
    assert,
  }) => {
    // Fewer slots per endpoint than deliveries at once (as 4 of 64 by default).
    webhooksConfig.concurrency = 3
    webhooksConfig.perEndpoint = 2
    const tenant = await givenTenant()
    const slow = await startReceiver(() => 'hang')
    const fast = await startReceiver()
    try {
      const slowEndpoint = await subscribe(client, tenant, slow)
      const fastEndpoint = await subscribe(client, tenant, fast)
      workers = startWorkers({ registry, concurrency: 2 })
      for (let index = 0; index < 6; index++) await ping(client, tenant, slowEndpoint.id)
      await eventually(async () => slow.requests.length >= 2)
      const ids: string[] = []
      for (let index = 0; index < 3; index++) ids.push(await ping(client, tenant, fastEndpoint.id))
      await eventually(async () => fast.requests.length === 3)
      assert.sameMembers(
        fast.requests.map((request) => String(request.headers['webhook-id'])),
        ids
      )
      // The slow endpoint never had more than its slots at once.
      assert.isAtMost(slow.maxInFlight, webhooksConfig.perEndpoint)
      await client.delete(`/api/webhooks/${slowEndpoint.id}/`).bearerToken(tenant.owner.token)
    } finally {
      await Promise.all([slow.close(), fast.close()])
    }
  })
  test("one tenant's hanging endpoints do not hold back another tenant's deliveries", async ({
    client,
    assert,
  }) => {
    webhooksConfig.concurrency = 3
    webhooksConfig.perTenant = 2
    const flooding = await givenTenant()
    const other = await givenTenant()
    const hanging = await Promise.all([1, 2, 3].map(() => startReceiver(() => 'hang')))
    const healthy = await startReceiver()
    // The flooding tenant's requests open at once, across its endpoints.
    let maxOpen = 0
    const openNow = () => hanging.reduce((sum, receiver) => sum + receiver.inFlight, 0)
    for (const receiver of hanging) {
      receiver.respond = () => {
        maxOpen = Math.max(maxOpen, openNow())
        return 'hang'
      }
    }
    try {
      const endpoints = []
      for (const receiver of hanging) endpoints.push(await subscribe(client, flooding, receiver))
      const otherEndpoint = await subscribe(client, other, healthy)
      workers = startWorkers({ registry, concurrency: 2 })
      for (const endpoint of endpoints) {
        for (let index = 0; index < 4; index++) await ping(client, flooding, endpoint.id)
      }
      await eventually(async () => openNow() >= 2)
      const ids: string[] = []
      for (let index = 0; index < 3; index++) ids.push(await ping(client, other, otherEndpoint.id))
      await eventually(async () => healthy.requests.length === 3)
      assert.sameMembers(
        healthy.requests.map((request) => String(request.headers['webhook-id'])),
        ids
      )
      // The flooding tenant never had more than its tenant slots at once.
      assert.isAtMost(maxOpen, 2)
      for (const endpoint of endpoints) {
        await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(flooding.owner.token)
      }
    } finally {
      await Promise.all([...hanging, healthy].map((receiver) => receiver.close()))
    }
  })
})

test.group('Reliability: webhook worker processes', (group) => {
  const started: WorkerProcess[] = []
  group.each.setup(async () => {
    await resetQueues()
  })
  group.each.teardown(async () => {
    await Promise.all(started.splice(0).map((worker) => worker.kill('SIGKILL')))
  })

  test('a worker SIGKILLed in the middle of a delivery: delivered afterwards, same id', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    let killed: (() => void) | undefined
    const firstRequest = new Promise<void>((resolve) => (killed = resolve))
    const receiver = await startReceiver((_request, index) => {
      if (index === 0) {
        killed!()
        return 'hang'
      }
      return 200
    })
    try {
      const endpoint = await subscribe(client, tenant, receiver)
      const worker = await spawnWorker()
      started.push(worker)
      const eventId = await ping(client, tenant, endpoint.id)
      await firstRequest
      await worker.kill('SIGKILL')

      const before = await deliveryOf(client, tenant, endpoint.id)
      assert.equal(before!.status, 'pending')
      started.push(await spawnWorker())
      const delivered = await eventually(
        async () => {
          const delivery = await deliveryOf(client, tenant, endpoint.id)
          return delivery?.status === 'delivered' ? delivery : null
        },
        { timeoutMs: 90_000 }
      )
      assert.equal(delivered!.event_id, eventId)
      assert.isAtLeast(receiver.requests.length, 2)
      for (const request of receiver.requests) {
        assert.equal(request.headers['webhook-id'], eventId)
        assert.isTrue(verifiedBy(endpoint.secret, request))
      }
    } finally {
      await receiver.close()
    }
  }).timeout(120_000)
})
