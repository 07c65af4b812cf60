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
  const expect = options.expect ?? ((status: number) => status >= 200 && status < 300)
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let served = 0
  let responses = 0

  const template: autocannon.Request = {
    method: options.method ?? 'GET',
    path: options.path,
    headers: {
      'content-type': 'application/json',
      'accept': 'application/json',
      ...options.headers,
    },
  }
  // autocannon calls any setupRequest key it finds: only set what is given.
  if (options.body !== undefined) template.body = options.body
  if (options.setupRequest) template.setupRequest = options.setupRequest
  const settings: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    timeout: 10,
    requests: [template],
  }
  if (options.amount !== undefined) settings.amount = options.amount
  else settings.duration = options.duration ?? 10
  if (options.overallRate !== undefined) settings.overallRate = options.overallRate
  const instance = autocannon(settings)
  ;(instance as unknown as NodeJS.EventEmitter).on(
    'response',
    (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      responses++
      statuses[status] = (statuses[status] ?? 0) + 1
      if (expect(status)) {
        served++
        latencies.push(responseTime)
      }
      options.onResponse?.(status, responses)
    }
  )
  const result = await (instance as unknown as Promise<autocannon.Result>)
  const seconds = result.duration
  return {
    rps: seconds > 0 ? served / seconds : 0,
    served,
    responses,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    latencies,
  }
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
  const seconds = sum((result) => result.seconds)
  const served = sum((result) => result.served)
  return {
    rps: seconds > 0 ? served / seconds : 0,
    served,
    responses: sum((result) => result.responses),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    errors: sum((result) => result.errors),
    timeouts: sum((result) => result.timeouts),
    seconds,
    latencies,
  }
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
