import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { ResolvedAddress } from '#webhooks/url_guard'

export interface SendResult {
  /** The HTTP status, or null when there was no answer. */
  statusCode: number | null
  /** Why it failed (no answer, or the start of a non-2xx answer). */
  error: string | null
  ok: boolean
}

/**
 * Kept-alive connections, one agent per (scheme, host, port, checked
 * address): a connection is reused only by an attempt whose URL check
 * resolved the host to the address that connection went to, so every
 * attempt still checks the address first, and a name that now resolves
 * elsewhere gets a new connection to the new (checked) address. Idle
 * connections close after IDLE_MS (or the receiver's shorter Keep-Alive
 * hint); at most MAX_AGENTS agents are kept, the least recently used one
 * dropped first (its idle connections closed, its busy ones closed once
 * done).
 */
const IDLE_MS = 4_000
const MAX_FREE_SOCKETS = 16
export const MAX_AGENTS = 512

const agents = new Map<string, http.Agent>()

function agentKey(url: URL, address: ResolvedAddress): string {
  return `${url.protocol}//${url.host}|${address.family}|${address.address}`
}

function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      ;(callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [address])
    } else {
      callback(null, address.address, address.family)
    }
  }
}

export function agentFor(url: URL, address: ResolvedAddress): http.Agent {
  const key = agentKey(url, address)
  const existing = agents.get(key)
  if (existing) {
    // Most recently used last.
    agents.delete(key)
    agents.set(key, existing)
    return existing
  }
  const options = {
    keepAlive: true,
    timeout: IDLE_MS,
    maxFreeSockets: MAX_FREE_SOCKETS,
    scheduling: 'lifo' as const,
    lookup: pinnedLookup(address),
  }
  const agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options)
  agents.set(key, agent)
  if (agents.size > MAX_AGENTS) {
    const [oldestKey, oldest] = agents.entries().next().value as [string, http.Agent]
    agents.delete(oldestKey)
    // Connections still busy are not kept once their answer is read.
    oldest.maxFreeSockets = 0
    closeIdle(oldest)
  }
  return agent
}

function closeIdle(agent: http.Agent) {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy()
  }
}

/**
 * Closes every kept-alive connection (tests, shutdown).
 */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy()
  agents.clear()
}

/** The agents kept now (tests). */
export function agentCount(): number {
  return agents.size
}

const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])

/**
 * One POST to a receiver, connected to an address already checked by the
 * URL guard (the socket's lookup returns that address, so no second DNS
 * answer is used; TLS still verifies the certificate for the URL's host),
 * over a kept-alive connection to that address when one is idle. A kept
 * connection the receiver closed just before it was reused (reset before
 * any answer) is retried once on a new connection, within the same time
 * bound. Redirects are never followed (a 3xx is a failure), the whole
 * exchange is bounded by `timeoutMs`, and at most `maxResponseBytes` of the
 * answer are read.
 */
export function send(
  url: URL,
  address: ResolvedAddress,
  headers: Record<string, string>,
  body: string,
  { timeoutMs, maxResponseBytes }: { timeoutMs: number; maxResponseBytes: number }
): Promise<SendResult> {
  const client = url.protocol === 'https:' ? https : http
  const agent = agentFor(url, address)

  return new Promise((resolve) => {
    let settled = false
    let request: http.ClientRequest
    const finish = (result: SendResult, keep = false) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      // A fully read answer leaves its connection to the agent.
      if (!keep) request.destroy()
      resolve(result)
    }
    const timer = setTimeout(
      () => finish({ ok: false, statusCode: null, error: `No answer within ${timeoutMs} ms` }),
      timeoutMs
    )

    const post = (reuse: boolean) => {
      let answered = false
      request = client.request(
        url,
        {
          method: 'POST',
          lookup: pinnedLookup(address),
          agent: reuse ? agent : false,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'tenant-commerce-webhooks',
          },
        },
        (response) => {
          answered = true
          const statusCode = response.statusCode ?? null
          const ok = statusCode !== null && statusCode >= 200 && statusCode < 300
          const chunks: Buffer[] = []
          let read = 0
          const done = (complete: boolean) => {
            const text = Buffer.concat(chunks).subarray(0, maxResponseBytes).toString('utf8')
            finish(
              {
                ok,
                statusCode,
                error: ok ? null : `HTTP ${statusCode}${text ? `: ${text.slice(0, 500)}` : ''}`,
              },
              complete
            )
          }
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk)
            read += chunk.length
            if (read >= maxResponseBytes) done(false)
          })
          response.on('end', () => done(true))
          response.on('error', () => done(false))
        }
      )
      const sent = request
      sent.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return
        if (reuse && !answered && sent.reusedSocket && STALE_SOCKET.has(error.code ?? '')) {
          post(false)
          return
        }
        finish({ ok: false, statusCode: null, error: error.message || String(error) })
      })
      sent.end(body)
    }
    post(true)
  })
}
