import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import { eventually, outboxCount, resetQueues } from '#tests/support/orders'
import { deliveriesOf, startReceiver } from '#tests/support/webhooks'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'
import { QUEUES } from '#queue/jobs'
import webhooksConfig from '#config/webhooks'
import { useResolver } from '#webhooks/url_guard'
import { closeAgents } from '#webhooks/http_sender'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * What makes deliveries fast without weakening them
 * (docs/design/webhooks.md, "Throughput"): kept-alive connections that are
 * still bound to the address checked at every attempt, no pooled
 * connection held during the HTTP call, the webhook queue's own
 * concurrency, and the outcomes of a tenant's deliveries that answer
 * together recorded together.
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

  test("a tenant's deliveries answered together are recorded together, each with its own status code, once", async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const codes = [200, 201, 204]
    const perEndpoint = webhooksConfig.perEndpoint
    const count = codes.length * perEndpoint
    // The receivers hold every answer until all the deliveries are in
    // flight, then answer at once: the outcomes reach the worker together.
    let answerAll!: () => void
    const together = new Promise<void>((resolve) => (answerAll = resolve))
    const receivers = await Promise.all(
      codes.map((code) =>
        startReceiver(async () => {
          await together
          return code
        })
      )
    )
    const received = () => receivers.reduce((sum, receiver) => sum + receiver.requests.length, 0)
    try {
      const endpoints = []
      for (const receiver of receivers)
        endpoints.push(await subscribe(client, tenant, receiver.url))
      for (const endpoint of endpoints) {
        for (let index = 0; index < perEndpoint; index++) await ping(client, tenant, endpoint.id)
      }
      workers = startWorkers({ registry, concurrency: 1 })
      await eventually(async () => received() === count)
      answerAll()
      await eventually(async () => {
        const deliveries = await deliveriesOf(tenant.id)
        return deliveries.length === count && deliveries.every((row) => row.status === 'delivered')
      })
      const { rows } = await db.rawQuery(
        `select endpoint_id, last_status_code, attempts, delivered_at is not null as stamped,
           last_error
         from ${quoteIdent(tenantSchema(tenant.id))}.webhook_deliveries order by id`
      )
      for (const row of rows) {
        const index = endpoints.findIndex((endpoint) => endpoint.id === row.endpoint_id)
        assert.deepEqual(
          [row.last_status_code, row.attempts, row.stamped, row.last_error],
          [codes[index], 1, true, null]
        )
      }
      assert.equal(await outboxCount(tenant.id), 0)
      // once each: no delivery was sent twice
      for (const receiver of receivers) assert.lengthOf(receiver.requests, perEndpoint)
      for (const endpoint of endpoints) {
        await client.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(tenant.owner.token)
      }
    } finally {
      answerAll()
      await Promise.all(receivers.map((receiver) => receiver.close()))
    }
  })
})
