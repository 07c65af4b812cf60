/**
 * Reads Prometheus text exposition in tests.
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!match) throw new Error(`Not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const label of (match[2] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
    )) {
      labels[label[1]] = label[2].replace(/\\(.)/g, '$1')
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  return samples
}

/**
 * The value of the sample with exactly these labels (0 when absent: a
 * counter that never moved has no sample yet).
 */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
  const sample = parseMetrics(text).find(
    (candidate) =>
      candidate.name === name &&
      Object.keys(candidate.labels).length === wanted.length &&
      wanted.every(([key, value]) => candidate.labels[key] === value)
  )
  return sample?.value ?? 0
}

/**
 * Every label name used by the samples.
 */
export function labelNames(text: string): Set<string> {
  return new Set(parseMetrics(text).flatMap((sample) => Object.keys(sample.labels)))
}
