import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { percentile } from './stats.ts'

/**
 * A load run with autocannon's programmatic API. autocannon runs in the
 * harness process, on the same two cores as the server it measures, for
 * the floors as for the API, so both pay the same tax.
 *
 * Latencies are recorded per response from autocannon's `response` event
 * (sub-millisecond, where autocannon's own histogram keeps whole ms).
 */
export interface LoadOptions {
  url: string
  path: string
  connections: number
  duration?: number
  amount?: number
  overallRate?: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** mutates each request (a new token, a new body); must return it */
  setupRequest?: (request: autocannon.Request) => autocannon.Request
  /** status codes that count as served (default: 2xx) */
  expect?: (status: number) => boolean
  onResponse?: (status: number, count: number) => void
}

export interface LoadResult {
  /** served responses (expected status) per second */
  rps: number
  served: number
  responses: number
  p50: number | null
  p99: number | null
  statuses: Record<string, number>
  errors: number
  timeouts: number
  seconds: number
  latencies: number[]
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  // A rate is a steady one (see pacedLoad), not autocannon's burst per second.
  if (options.overallRate !== undefined) {
    return pacedLoad({ ...options, overallRate: options.overallRate })
  }
  const answers = tally(options)

  // autocannon calls any setupRequest key it finds: only set what is given.
  const template = requestTemplate(options)
  if (options.setupRequest) template.setupRequest = options.setupRequest
  const settings: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    timeout: 10,
    requests: [template],
  }
  if (options.amount !== undefined) settings.amount = options.amount
  else settings.duration = options.duration ?? 10
  const instance = autocannon(settings)
  ;(instance as unknown as NodeJS.EventEmitter).on(
    'response',
    (_client: unknown, status: number, _bytes: number, responseTime: number) =>
      answers.answer(status, responseTime)
  )
  const result = await (instance as unknown as Promise<autocannon.Result>)
  return answers.result({
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
  })
}

/**
 * The request of a load before its `setupRequest`: JSON, with the body
 * only when one is given.
 */
function requestTemplate(options: LoadOptions): autocannon.Request {
  return {
    method: options.method ?? 'GET',
    path: options.path,
    headers: {
      'content-type': 'application/json',
      'accept': 'application/json',
      ...options.headers,
    },
    ...(options.body !== undefined && { body: options.body }),
  }
}

/**
 * The answers of one load: counted by status, the latencies of the
 * expected ones (default: 2xx) kept, `onResponse` told of each.
 */
function tally(options: LoadOptions) {
  const expect = options.expect ?? ((status: number) => status >= 200 && status < 300)
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let served = 0
  let responses = 0
  return {
    answer(status: number, latency: number) {
      responses++
      statuses[status] = (statuses[status] ?? 0) + 1
      if (expect(status)) {
        served++
        latencies.push(latency)
      }
      options.onResponse?.(status, responses)
    },
    result(counts: Pick<LoadResult, 'errors' | 'timeouts' | 'seconds'>): LoadResult {
      return loadResult(latencies, statuses, { served, responses, ...counts })
    },
  }
}

/**
 * A result from its counts, with its rate and percentiles.
 */
function loadResult(
  latencies: number[],
  statuses: Record<string, number>,
  counts: Pick<LoadResult, 'served' | 'responses' | 'errors' | 'timeouts' | 'seconds'>
): LoadResult {
  return {
    ...counts,
    rps: counts.seconds > 0 ? counts.served / counts.seconds : 0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    latencies,
  }
}

/** How long a request may take before it counts as a timeout (as autocannon's `timeout`). */
const TIMEOUT_MS = 10_000

/**
 * An open-loop load at a steady rate: request `i` is due at
 * `start + i / rate`, whatever the answers before it took, so 200/s means
 * one request every 5 ms, not a burst of 200 at the top of each second.
 *
 * autocannon's `overallRate` is such a burst: each connection sends its
 * share of the second back to back as soon as its one-second interval
 * fires, and every connection's interval starts together, so the whole
 * second's requests leave at once (node_modules/autocannon/lib/httpClient.js,
 * `reqsMadeThisSecond`). A rate target is about a steady rate; a server
 * draining a burst each second measures the burst.
 *
 * `connections` bounds the sockets (a keep-alive agent): a request due
 * while every socket is busy waits in the agent, and its latency is
 * measured from the time it was due, not from when it left, so a server
 * that falls behind shows it in the percentiles (no coordinated omission).
 * The result has the shape of `load()`'s; `rps` is the served responses
 * over the time from the first request to the last answer.
 */
export async function pacedLoad(
  options: LoadOptions & { overallRate: number }
): Promise<LoadResult> {
  const total = options.amount ?? Math.round((options.duration ?? 10) * options.overallRate)
  const interval = 1000 / options.overallRate
  const target = new URL(options.url)
  // fifo: every socket is used in turn, so none sits idle long enough for
  // the server to close it just as it is reused (a reset request)
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, scheduling: 'fifo' })
  const answers = tally(options)
  let errors = 0
  let timeouts = 0
  let sent = 0
  let lastAnswer = 0

  const send = (due: number) =>
    new Promise<void>((resolve) => {
      const template = requestTemplate(options)
      const req = options.setupRequest ? options.setupRequest(template) : template
      const body = req.body === undefined ? undefined : Buffer.from(String(req.body))
      const headers: Record<string, string> = { ...(req.headers as Record<string, string>) }
      if (body) headers['content-length'] = String(body.length)
      let settled = false
      const finish = (outcome: 'answer' | 'error' | 'timeout', status?: number) => {
        if (settled) return
        settled = true
        lastAnswer = performance.now()
        if (outcome === 'error') errors++
        else if (outcome === 'timeout') timeouts++
        else answers.answer(status!, lastAnswer - due)
        resolve()
      }
      const outgoing = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.path ?? options.path,
          headers,
          timeout: TIMEOUT_MS,
        },
        (res) => {
          res.resume()
          res.on('end', () => finish('answer', res.statusCode))
          res.on('error', () => finish('error'))
        }
      )
      outgoing.on('timeout', () => {
        outgoing.destroy()
        finish('timeout')
      })
      outgoing.on('error', () => finish('error'))
      outgoing.end(body)
    })

  const start = performance.now()
  const inFlight: Promise<void>[] = []
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now()
      while (sent < total && start + sent * interval <= now) {
        inFlight.push(send(start + sent * interval))
        sent++
      }
      if (sent >= total) return done()
      setTimeout(tick, Math.max(0, start + sent * interval - performance.now()))
    }
    tick()
  })
  await Promise.all(inFlight)
  agent.destroy()

  return answers.result({ errors, timeouts, seconds: Math.max(lastAnswer - start, 0) / 1000 })
}

/**
 * Several runs of the same load taken as one (rates over the summed time,
 * percentiles over every latency).
 */
export function combine(results: LoadResult[]): LoadResult {
  const latencies = results.flatMap((result) => result.latencies)
  const statuses: Record<string, number> = {}
  for (const result of results) {
    for (const [status, count] of Object.entries(result.statuses)) {
      statuses[status] = (statuses[status] ?? 0) + count
    }
  }
  const sum = (pick: (result: LoadResult) => number) =>
    results.reduce((total, result) => total + pick(result), 0)
  return loadResult(latencies, statuses, {
    served: sum((result) => result.served),
    responses: sum((result) => result.responses),
    errors: sum((result) => result.errors),
    timeouts: sum((result) => result.timeouts),
    seconds: sum((result) => result.seconds),
  })
}

/**
 * A one-line account of unexpected answers, for the notes of a row.
 */
export function anomalies(result: LoadResult, expected = (status: number) => status < 300) {
  const parts = Object.entries(result.statuses)
    .filter(([status]) => !expected(Number(status)))
    .map(([status, count]) => `${count}× ${status}`)
  if (result.errors) parts.push(`${result.errors} socket errors`)
  if (result.timeouts) parts.push(`${result.timeouts} timeouts`)
  return parts.join(', ')
}
