import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import db from '#tests/support/platform_db'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

/**
 * Test receivers of webhooks: a real HTTP server on loopback, recording
 * every request, answering what the test says.
 */
export interface ReceivedRequest {
  headers: IncomingHttpHeaders
  body: string
  json: any
}

export interface Receiver {
  port: number
  url: string
  requests: ReceivedRequest[]
  /** The requests it has open now, and the most it had open at once. */
  inFlight: number
  maxInFlight: number
  /** Decides the status of the n-th request (0-based); 200 by default. */
  respond: (request: ReceivedRequest, index: number) => number | Promise<number> | 'hang'
  listen(): Promise<void>
  close(): Promise<void>
}

export async function startReceiver(
  respond: Receiver['respond'] = () => 200,
  { port = 0, listen = true }: { port?: number; listen?: boolean } = {}
): Promise<Receiver> {
  let server: Server | undefined
  const hanging = new Set<import('node:http').ServerResponse>()
  const receiver: Receiver = {
    port,
    url: '',
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    respond,
    async listen() {
      server = createServer((request, response) => {
        receiver.inFlight++
        receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight)
        response.on('close', () => receiver.inFlight--)
        const chunks: Buffer[] = []
        request.on('data', (chunk) => chunks.push(chunk))
        request.on('end', async () => {
          const body = Buffer.concat(chunks).toString('utf8')
          let json: unknown = null
          try {
            json = JSON.parse(body)
          } catch {}
          const received = { headers: request.headers, body, json }
          const index = receiver.requests.push(received) - 1
          const status = await receiver.respond(received, index)
          if (status === 'hang') {
            hanging.add(response)
            return
          }
          response.writeHead(status, { 'content-type': 'text/plain' })
          response.end(status >= 200 && status < 300 ? 'ok' : 'nope')
        })
      })
      await new Promise<void>((resolve) => server!.listen(receiver.port, '127.0.0.1', resolve))
      receiver.port = (server.address() as { port: number }).port
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks`
    },
    async close() {
      for (const response of hanging) response.destroy()
      hanging.clear()
      if (!server) return
      const closing = server
      server = undefined
      closing.closeAllConnections()
      await new Promise((resolve) => closing.close(resolve))
    },
  }
  if (port) receiver.url = `http://127.0.0.1:${port}/hooks`
  if (listen) await receiver.listen()
  return receiver
}

/**
 * An independent Standard Webhooks verification (not the application's
 * signer): true when one of the `v1,` signatures of the header is the
 * HMAC-SHA256 of "id.timestamp.body" keyed with the secret's bytes.
 */
export function verifiedBy(secret: string, request: ReceivedRequest): boolean {
  const id = String(request.headers['webhook-id'])
  const timestamp = String(request.headers['webhook-timestamp'])
  const key = Buffer.from(secret.split('_')[1], 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest()
  return String(request.headers['webhook-signature'])
    .split(' ')
    .some((entry) => {
      const [version, signature] = entry.split(',')
      const given = Buffer.from(signature ?? '', 'base64')
      return (
        version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected)
      )
    })
}

export async function deliveriesOf(tenantId: number) {
  const { rows } = await db.rawQuery(
    `select d.id, d.status, d.attempts, d.endpoint_id, e.type, e.uid
     from ${quoteIdent(tenantSchema(tenantId))}.webhook_deliveries d
     join ${quoteIdent(tenantSchema(tenantId))}.webhook_events e on e.id = d.event_id
     order by d.id`
  )
  return rows as {
    id: number
    status: string
    attempts: number
    endpoint_id: number
    type: string
    uid: string
  }[]
}

export async function eventCount(tenantId: number): Promise<number> {
  const { rows } = await db.rawQuery(
    `select count(*)::int as n from ${quoteIdent(tenantSchema(tenantId))}.webhook_events`
  )
  return rows[0].n
}
