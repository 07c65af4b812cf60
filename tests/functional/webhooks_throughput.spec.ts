import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import { eventually, resetQueues } from '#tests/support/orders'
import { deliveriesOf, startReceiver, verifiedBy } from '#tests/support/webhooks'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { QUEUES } from '#queue/jobs'
import webhooksConfig from '#config/webhooks'
import { useResolver } from '#webhooks/url_guard'
import { closeAgents } from '#webhooks/http_sender'
import { acquireSlot, claimSlot, releaseSlot, waitingCount } from '#webhooks/slots'
import { queuePrefix, queueRedis } from '#queue/queues'

/**
 * What makes deliveries fast without weakening them
 * (docs/design/webhooks.md, "Throughput"): kept-alive connections that are
 * still bound to the address checked at every attempt, no pooled
 * connection held during the HTTP call, and the webhook queue's own
 * concurrency.
 */
async function subscribe(client: any, tenant: GivenTenant, url: string) {
  const response = await client
    .post('/api/webhooks/')
    .bearerToken(tenant.owner.token)
    .json({ url, events: ['*'] })
  response.assertStatus(201)
  return response.body() as { id: number; secret: string }
}

async function ping(client: any, tenant: GivenTenant, endpointId: number) {
  const response = await client
    .post(`/api/webhooks/${endpointId}/ping/`)
    .bearerToken(tenant.owner.token)
  response.assertStatus(202)
}

/**
 * A receiver bound to one loopback address, noting the client port of
 * every request (one port = one TCP connection).
 */
async function addressReceiver(host: string, port = 0) {
  const ports: number[] = []
  const server: Server = createHttpServer((request, response) => {
    ports.push(request.socket.remotePort!)
    request.resume()
    request.on('end', () => response.writeHead(204).end())
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  return {
    ports,
    port: (server.address() as { port: number }).port,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

test.group('Webhooks / throughput', (group) => {
  let workers: WorkerHandle | undefined
  const saved = { ...webhooksConfig }
  group.each.setup(async () => {
    await resetQueues()
    closeAgents()
  })
  group.each.teardown(async () => {
    await workers?.close()
    workers = undefined
    Object.assign(webhooksConfig, saved)
    useResolver()
    closeAgents()
  })

  test('a kept-alive connection is reused only while the host still resolves to its address', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const first = await addressReceiver('127.0.0.1')
    const second = await addressReceiver('127.0.0.2', first.port)
    let address = '127.0.0.1'
    let lookups = 0
    useResolver(async () => {
      lookups++
      return [{ address, family: 4 }]
    })
    try {
      const endpoint = await subscribe(
        client,
        tenant,
        `http://hooks.keepalive.test:${first.port}/hooks`
      )
      workers = startWorkers({ registry, concurrency: 2 })
      await ping(client, tenant, endpoint.id)
      await eventually(async () => first.ports.length === 1)
      await ping(client, tenant, endpoint.id)
      await eventually(async () => first.ports.length === 2)
      // Two deliveries, one connection.
      assert.equal(first.ports[1], first.ports[0])

      // The name now resolves elsewhere: the next attempt checks it again
      // and connects to the new address, not over the kept connection.
      address = '127.0.0.2'
      const before = lookups
      await ping(client, tenant, endpoint.id)
      await eventually(async () => second.ports.length === 1)
      assert.isAbove(lookups, before)
      assert.lengthOf(first.ports, 2)
      await ping(client, tenant, endpoint.id)
      await eventually(async () => second.ports.length === 2)
      assert.equal(second.ports[1], second.ports[0])
      await eventually(async () => {
        const deliveries = await deliveriesOf(tenant.id)
        return deliveries.length === 4 && deliveries.every((row) => row.status === 'delivered')
      })
      await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(tenant.owner.token)
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })

  test('a kept connection the receiver closed is retried once on a new one: delivered, one attempt', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    // Answers the first request of each connection, keeping it open, and
    // drops a connection on its second request (as a receiver closing an
    // idle connection just as it is reused).
    const connections: Socket[] = []
    let answered = 0
    const server = createTcpServer((socket) => {
      connections.push(socket)
      let requests = 0
      socket.on('data', (chunk) => {
        if (!chunk.includes('\r\n\r\n')) return
        requests++
        if (requests > 1) {
          socket.destroy()
          return
        }
        answered++
        socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    try {
      const endpoint = await subscribe(client, tenant, `http://127.0.0.1:${port}/hooks`)
      workers = startWorkers({ registry, concurrency: 2 })
      await ping(client, tenant, endpoint.id)
      await eventually(async () => answered === 1)
      await eventually(async () => {
        const deliveries = await deliveriesOf(tenant.id)
        return deliveries.length === 1 && deliveries[0].status === 'delivered'
      })
      await ping(client, tenant, endpoint.id)
      await eventually(async () => {
        const rows = await deliveriesOf(tenant.id)
        return rows.length === 2 && rows.every((row) => row.status === 'delivered')
      })
      const deliveries = await deliveriesOf(tenant.id)
      assert.equal(answered, 2)
      assert.lengthOf(connections, 2)
      assert.deepEqual(
        deliveries.map((delivery) => delivery.attempts),
        [1, 1]
      )
      await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(tenant.owner.token)
    } finally {
      for (const socket of connections) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('no database connection is held while receivers take their time', async ({
    client,
    assert,
  }) => {
    webhooksConfig.concurrency = 4
    const tenant = await givenTenant()
    const receiver = await startReceiver(() => 'hang')
    try {
      const endpoint = await subscribe(client, tenant, receiver.url)
      workers = startWorkers({ registry, concurrency: 2 })
      for (let index = 0; index < 2; index++) await ping(client, tenant, endpoint.id)
      await eventually(async () => receiver.inFlight === 2)
      const { rows } = await db.rawQuery(
        `select count(*)::int as n from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and state like 'idle in transaction%'`
      )
      assert.equal(rows[0].n, 0)
      await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(tenant.owner.token)
    } finally {
      await receiver.close()
    }
  })

  test("a burst of one tenant's deliveries to two endpoints: each delivered once, signed, its outbox row gone", async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const receivers = await Promise.all([1, 2].map(() => startReceiver(() => 204)))
    try {
      const endpoints: { id: number; secret: string }[] = []
      for (const receiver of receivers) {
        endpoints.push(await subscribe(client, tenant, receiver.url))
      }
      for (let count = 0; count < 10; count++) {
        for (const endpoint of endpoints) await ping(client, tenant, endpoint.id)
      }
      // Started with the backlog there: the deliveries start together.
      workers = startWorkers({ registry, concurrency: 1 })
      await eventually(async () => {
        const now = await deliveriesOf(tenant.id)
        return now.every((delivery) => delivery.status === 'delivered')
      })
      const delivered = await deliveriesOf(tenant.id)
      assert.lengthOf(delivered, 20)
      for (const delivery of delivered) assert.equal(delivery.attempts, 1)
      for (const [index, receiver] of receivers.entries()) {
        const ids = receiver.requests.map((request) => String(request.headers['webhook-id']))
        assert.sameMembers(
          ids,
          delivered
            .filter((delivery) => delivery.endpoint_id === endpoints[index].id)
            .map((delivery) => delivery.uid)
        )
        for (const request of receiver.requests) {
          assert.isTrue(verifiedBy(endpoints[index].secret, request))
        }
      }
      const { rows } = await db.rawQuery(
        `select count(*)::int as n from ${quoteIdent(tenantSchema(tenant.id))}.outbox where job = 'deliver-webhook'`
      )
      assert.equal(rows[0].n, 0)
    } finally {
      await Promise.all(receivers.map((receiver) => receiver.close()))
    }
  })

  test('the webhook queue runs WEBHOOK_CONCURRENCY deliveries at once, whatever WORKER_CONCURRENCY', async ({
    client,
    assert,
  }) => {
    const workerConcurrency = 8
    assert.isAbove(QUEUES.webhooks.concurrency(), QUEUES.orders.concurrency(workerConcurrency))
    webhooksConfig.concurrency = 6
    webhooksConfig.perEndpoint = 2
    webhooksConfig.perTenant = 2
    const tenants = await Promise.all([1, 2, 3].map(() => givenTenant()))
    const receivers = await Promise.all(tenants.map(() => startReceiver(() => 'hang')))
    const open = () => receivers.reduce((sum, receiver) => sum + receiver.inFlight, 0)
    try {
      const endpoints = []
      for (const [index, tenant] of tenants.entries()) {
        endpoints.push(await subscribe(client, tenant, receivers[index].url))
      }
      // One worker slot for orders, six for deliveries.
      workers = startWorkers({ registry, concurrency: 1 })
      for (const [index, tenant] of tenants.entries()) {
        for (let count = 0; count < 3; count++) await ping(client, tenant, endpoints[index].id)
      }
      await eventually(async () => open() === 6)
      // Every tenant had its share; none more than its slots.
      for (const receiver of receivers) assert.equal(receiver.maxInFlight, 2)
      for (const [index, tenant] of tenants.entries()) {
        await client.delete(`/api/webhooks/${endpoints[index].id}/`).bearerToken(tenant.owner.token)
      }
    } finally {
      await Promise.all(receivers.map((receiver) => receiver.close()))
    }
  })
})

test.group('Webhooks / waiting for a slot', (group) => {
  // Ids no fixture uses: the slot keys are the test's own.
  let tenantId = 990_000
  group.each.setup(() => {
    tenantId++
  })
  const limits = { perEndpoint: 1, perTenant: 4, holdMs: 60_000, waitMs: 60_000, maxWaiters: 4 }
  const taken = (endpointId: number) =>
    queueRedis().zrange(`{${queuePrefix()}:wh:${tenantId}}:endpoint:${endpointId}`, 0, -1)

  test('a delivery finding its endpoint full waits for the slot this process releases', async ({
    assert,
  }) => {
    assert.isTrue(await acquireSlot(tenantId, 1, 'first', limits))
    const second = claimSlot(tenantId, 1, 'second', limits)
    await eventually(async () => waitingCount() === 1)
    // Still full: the waiter took nothing.
    assert.deepEqual(await taken(1), ['first'])
    await releaseSlot(tenantId, 1, 'first')
    assert.isTrue(await second)
    assert.equal(waitingCount(), 0)
    assert.deepEqual(await taken(1), ['second'])
    await releaseSlot(tenantId, 1, 'second')
  })

  test('a slot another process releases is found by polling', async ({ assert }) => {
    assert.isTrue(await acquireSlot(tenantId, 1, 'elsewhere', limits))
    const waiting = claimSlot(tenantId, 1, 'here', limits)
    await eventually(async () => waitingCount() === 1)
    // Released in Redis only, as another worker process does: no local wake-up.
    await queueRedis().zrem(`{${queuePrefix()}:wh:${tenantId}}:endpoint:1`, 'elsewhere')
    assert.isTrue(await waiting)
    assert.deepEqual(await taken(1), ['here'])
    await releaseSlot(tenantId, 1, 'here')
  })

  test('waiters are bounded per tenant and in all; past the bounds, or the wait, no slot', async ({
    assert,
  }) => {
    assert.isTrue(await acquireSlot(tenantId, 1, 'holder', limits))
    const first = claimSlot(tenantId, 1, 'w1', limits)
    await eventually(async () => waitingCount() === 1)
    // One waiter per tenant slot: the next one goes back to the queue at once.
    assert.isFalse(await claimSlot(tenantId, 1, 'w2', { ...limits, perTenant: 1 }))
    // No waiting allowed in all: another endpoint's delivery does not wait either.
    assert.isTrue(await acquireSlot(tenantId, 2, 'holder2', limits))
    assert.isFalse(await claimSlot(tenantId, 2, 'w3', { ...limits, maxWaiters: 1 }))
    // A short wait that sees no release ends without a slot.
    assert.isFalse(await claimSlot(tenantId, 2, 'w4', { ...limits, waitMs: 30 }))
    assert.deepEqual(await taken(2), ['holder2'])
    await releaseSlot(tenantId, 1, 'holder')
    assert.isTrue(await first)
    assert.equal(waitingCount(), 0)
    for (const [endpointId, owner] of [
      [1, 'w1'],
      [2, 'holder2'],
    ] as const) {
      await releaseSlot(tenantId, endpointId, owner)
    }
  })
})
