/**
 * Small statistics helpers. Percentiles use the nearest-rank method on a
 * sorted copy.
 */
export function percentile(values: ArrayLike<number>, p: number): number | null {
  if (values.length === 0) return null
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

export function median(values: ArrayLike<number>): number | null {
  return percentile(values, 50)
}

export function round(value: number | null | undefined, digits = 1): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

export function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls `probe` every `intervalMs` until it returns true or `timeoutMs`
 * passes. Returns whether it succeeded.
 */
export async function waitFor(
  probe: () => Promise<boolean>,
  { timeoutMs, intervalMs = 100 }: { timeoutMs: number; intervalMs?: number }
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe()) return true
    await sleep(intervalMs)
  }
  return probe()
}
