import { rssMiB } from './processes.ts'

/**
 * Memory of a process the harness started, read from outside: RSS from
 * `ps`, the V8 heap from the process's own Prometheus metrics (prom-client's
 * default metrics, the same a production scrape reads; no debug endpoint).
 */
export interface MemorySample {
  /** seconds since the first sample of the series */
  at: number
  rssMiB: number | null
  heapUsedMiB: number | null
  heapTotalMiB: number | null
  externalMiB: number | null
}

const MIB = 1024 * 1024

/**
 * The value of an unlabelled sample `name` in a Prometheus text exposition,
 * or null when it is not there.
 */
export function promValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (!rest.startsWith(' ')) continue
    const value = Number(rest.trim().split(/\s+/)[0])
    return Number.isFinite(value) ? value : null
  }
  return null
}

export async function scrape(url: string, token?: string): Promise<string | null> {
  try {
    const response = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    })
    return response.ok ? await response.text() : null
  } catch {
    return null
  }
}

/**
 * One sample of a process: its RSS and, when `metricsUrl` answers, its
 * V8 heap (used and total) and external memory (Buffers and the like).
 */
export async function sampleMemory(
  pid: number | undefined,
  metricsUrl: string | undefined,
  at: number,
  token?: string
): Promise<MemorySample> {
  const [rss, text] = await Promise.all([
    rssMiB(pid),
    metricsUrl ? scrape(metricsUrl, token) : Promise.resolve(null),
  ])
  const mib = (name: string) => {
    const value = text ? promValue(text, name) : null
    return value === null ? null : value / MIB
  }
  return {
    at,
    rssMiB: rss,
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  }
}

/**
 * Least-squares slope of `value` over `at` (seconds), in units per minute;
 * null with fewer than two points or no spread in time.
 */
export function slopePerMinute(points: Array<{ at: number; value: number | null }>): number | null {
  const known = points.filter(
    (point): point is { at: number; value: number } =>
      point.value !== null && Number.isFinite(point.value)
  )
  if (known.length < 2) return null
  const n = known.length
  const meanX = known.reduce((sum, point) => sum + point.at, 0) / n
  const meanY = known.reduce((sum, point) => sum + point.value, 0) / n
  let numerator = 0
  let denominator = 0
  for (const point of known) {
    numerator += (point.at - meanX) * (point.value - meanY)
    denominator += (point.at - meanX) ** 2
  }
  if (denominator === 0) return null
  return (numerator / denominator) * 60
}

/**
 * Summary of a soak: the value at the end of the warm-up (median of the
 * samples of the warm-up's last fifth, to smooth the GC sawtooth), at the
 * end (median of the last fifth of the series), the highest sample, and the
 * slope over the samples after the warm-up.
 */
export function soakSummary(
  samples: MemorySample[],
  pick: (sample: MemorySample) => number | null,
  warmupSeconds: number
) {
  const series = samples.map((sample) => ({ at: sample.at, value: pick(sample) }))
  const warm = series.filter((point) => point.at <= warmupSeconds)
  const after = series.filter((point) => point.at >= warmupSeconds)
  const tailMedian = (points: typeof series) => {
    const values = points
      .slice(-Math.max(1, Math.ceil(points.length / 5)))
      .map((point) => point.value)
      .filter((value): value is number => value !== null)
      .sort((a, b) => a - b)
    return values.length ? values[Math.floor((values.length - 1) / 2)] : null
  }
  const values = series.map((point) => point.value).filter((value) => value !== null)
  return {
    warmup: tailMedian(warm),
    end: tailMedian(after),
    max: values.length ? Math.max(...values) : null,
    slope: slopePerMinute(after),
  }
}
