import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './env.ts'
import { round } from './stats.ts'

/**
 * One reported figure. `floor` is the same quantity measured in the same
 * run on the minimal implementation; `ratio` is value / floor.
 */
export interface Row {
  scenario: string
  metric: string
  value: number | null
  unit: string
  floor?: number | null
  floorName?: string
  ratio?: number | null
  target?: string
  met?: boolean | null
  status: 'measured' | 'not available' | 'failed'
  note?: string
  date?: string
}

export interface Machine {
  cores: number
  cpu: string
  memoryGiB: number
  node: string
  postgres?: string
  redis?: string
}

export interface RunRecord {
  date: string
  quick: boolean
  scenarios: string[]
  machine: Machine
  rows: Row[]
  floors: Row[]
  seconds: number
}

export function machine(): Machine {
  const list = cpus()
  return {
    cores: list.length,
    cpu: list[0]?.model?.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 1024 ** 3, 1) ?? 0,
    node: process.version,
  }
}

export function notAvailable(scenario: string, metric: string, reason: string): Row {
  return { scenario, metric, value: null, unit: '', status: 'not available', note: reason }
}

export function failed(scenario: string, metric: string, error: unknown): Row {
  const message = error instanceof Error ? error.message : String(error)
  return {
    scenario,
    metric,
    value: null,
    unit: '',
    status: 'failed',
    note: message.split('\n').slice(0, 3).join(' ').slice(0, 300),
  }
}

/**
 * A row compared to its floor: `ratio` is value / floor, checked against
 * `atLeast` or `atMost`.
 */
export function compared(
  row: Omit<Row, 'status' | 'ratio' | 'met'>,
  check: { atLeast?: number; atMost?: number; absoluteMax?: number; absoluteMin?: number } = {}
): Row {
  const ratio = row.value !== null && row.floor ? row.value / row.floor : null
  let met: boolean | null = null
  if (row.value !== null) {
    if (check.atLeast !== undefined && ratio !== null) met = ratio >= check.atLeast
    if (check.atMost !== undefined && ratio !== null) met = ratio <= check.atMost
    if (check.absoluteMax !== undefined) met = row.value <= check.absoluteMax
    if (check.absoluteMin !== undefined) met = row.value >= check.absoluteMin
  }
  return { ...row, ratio, met, status: 'measured' }
}

function fmt(value: number | null | undefined, unit = '') {
  if (value === null || value === undefined) return '—'
  const size = Math.abs(value)
  const text = value.toLocaleString(
    'en-US',
    size >= 1 || size === 0
      ? { maximumFractionDigits: size >= 100 ? 0 : size >= 10 ? 1 : 2 }
      : { maximumSignificantDigits: 2 }
  )
  return unit ? `${text} ${unit}` : text
}

function ratioText(row: Row) {
  if (row.ratio === null || row.ratio === undefined) return '—'
  return row.unit === 'req/s' || row.unit === 'jobs/s' || row.unit.endsWith('/s')
    ? `${Math.round(row.ratio * 100)} %`
    : `${row.ratio.toFixed(2)}×`
}

function metText(row: Row) {
  if (row.status === 'not available') return 'pending'
  if (row.status === 'failed') return 'FAILED'
  if (row.met === true) return 'yes'
  if (row.met === false) return 'NO'
  return ''
}

function cells(row: Row) {
  const figure =
    row.status === 'measured' ? fmt(row.value, row.unit) : `${row.status}: ${row.note ?? ''}`
  const floor =
    row.floor !== undefined && row.floor !== null
      ? `${fmt(row.floor, row.unit)}${row.floorName ? ` (${row.floorName})` : ''}`
      : '—'
  return [row.scenario, row.metric, figure, floor, ratioText(row), row.target ?? '', metText(row)]
}

const HEADER = ['scenario', 'metric', 'figure', 'floor', 'ratio', 'target', 'met?']

export function printTable(rows: Row[], log: (line: string) => void) {
  const table = [HEADER, ...rows.map(cells)]
  const widths = HEADER.map((_, column) =>
    Math.min(60, Math.max(...table.map((line) => line[column].length)))
  )
  const line = (values: string[]) =>
    values.map((value, column) => value.slice(0, 60).padEnd(widths[column])).join('  ')
  log(line(HEADER))
  log(widths.map((width) => '-'.repeat(width)).join('  '))
  for (const values of table.slice(1)) log(line(values))
  const notes = rows.filter((row) => row.status === 'measured' && row.note)
  for (const row of notes) log(`  note ${row.scenario} / ${row.metric}: ${row.note}`)
}

export function writeResults(record: RunRecord): string {
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${record.date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`)
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`)
  return file
}

const DATA_MARK = '<!-- bench-data '

/**
 * The hand-written part of BENCHMARKS.md: optimisations and shortfalls.
 */
function analysis(file = join(ROOT, 'bench', 'ANALYSIS.md')): string {
  return existsSync(file) ? `${readFileSync(file, 'utf8').trim()}\n` : ''
}

/**
 * Rewrites BENCHMARKS.md. A run of some scenarios replaces only their rows:
 * the rows of the other scenarios are kept from the previous file (which
 * carries its data in a trailing comment), each with the date it was
 * measured.
 */
export function writeBenchmarksMd(
  record: RunRecord,
  order: string[],
  file = join(ROOT, 'BENCHMARKS.md')
) {
  let previous: { rows: Row[]; floors: Row[] } = { rows: [], floors: [] }
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8')
    const start = text.lastIndexOf(DATA_MARK)
    if (start >= 0) {
      try {
        previous = JSON.parse(text.slice(start + DATA_MARK.length, text.lastIndexOf(' -->')))
      } catch {
        previous = { rows: [], floors: [] }
      }
    }
  }
  const stamp = (rows: Row[]) => rows.map((row) => ({ ...row, date: row.date ?? record.date }))
  const fresh = new Set(record.scenarios)
  const rows = [...previous.rows.filter((row) => !fresh.has(row.scenario)), ...stamp(record.rows)]
  rows.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario))
  const freshFloors = new Set(record.floors.map((row) => row.metric))
  const floors = [
    ...previous.floors.filter((row) => !freshFloors.has(row.metric)),
    ...stamp(record.floors),
  ]

  const m = record.machine
  const dates = [...new Set(rows.map((row) => row.date?.slice(0, 10)))].filter(Boolean).sort()
  const table = (list: Row[]) =>
    [
      `| ${HEADER.join(' | ')} |`,
      `|${HEADER.map(() => '---').join('|')}|`,
      ...list.map(
        (row) =>
          `| ${cells(row)
            .map((cell) => cell.replaceAll('|', '\\|'))
            .join(' | ')} |`
      ),
    ].join('\n')
  const pending = rows.filter((row) => row.status !== 'measured')
  const notes = rows.filter((row) => row.status === 'measured' && row.note)

  const text = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); the next run rewrites this file. Every figure is
shown beside its **floor**: the same work done by a minimal implementation (bare \`node:http\` +
\`pg\`, bare BullMQ, raw DDL), measured in the same run on the same machine, so the ratio says
how much the framework and the application cost, independent of the machine. Why these floors:
[docs/design/benchmarks.md](docs/design/benchmarks.md).

## Machine and run

- ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB memory, Node ${m.node}${m.postgres ? `, ${m.postgres}` : ''}${m.redis ? `, Redis ${m.redis}` : ''}
- Last run: ${record.date}${record.quick ? ' (**--quick**: shorter durations, smaller counts)' : ''}, scenarios: ${record.scenarios.join(', ')}; rows measured on: ${dates.join(', ')}
- The load generator (autocannon) runs on the same cores as the server, for the floors and the
  application alike. Other work on the machine during a run shows up as noise, and it can be
  large: while other engineers' test suites ran on these 2 cores, the read floor varied between
  about 800 and 1,500 req/s from run to run. Compare ratios, not absolute figures (the read
  floor and the API are loaded in turn, and each timed sign-up follows a DDL-floor sample).

## Results

${table(rows)}
${notes.length ? `\nNotes:\n${notes.map((row) => `- ${row.scenario} / ${row.metric}: ${row.note}`).join('\n')}\n` : ''}
${pending.length ? `\n**Pending** (endpoint, worker or command not on this branch yet; they light up once merged): ${[...new Set(pending.map((row) => row.scenario))].join(', ')}.\n` : ''}
## Floors measured

| floor | figure | what it does |
|---|---|---|
${floors.map((row) => `| ${row.metric} | ${row.status === 'measured' ? fmt(row.value, row.unit) : `${row.status}: ${row.note ?? ''}`} | ${row.status === 'measured' ? (row.note ?? '') : ''} |`).join('\n')}

${analysis()}
## How to reproduce

Needs PostgreSQL and Redis on loopback (\`docker compose up -d\` or local services) and the
settings of \`.env\`.

\`\`\`sh
npm ci
npm run bench                 # every scenario (about 10 minutes on 2 cores)
npm run bench -- read scale   # some scenarios
npm run bench -- --quick      # shorter durations and counts, for a smoke run
\`\`\`

The harness builds the app if build/ is stale, recreates the database \`<DB_DATABASE>_bench\`
(and \`<DB_DATABASE>_bench_migrate\` for the migrate scenario), flushes only Redis DB
\`BENCH_REDIS_DB\` (default 15), starts \`node build/bin/server.js\` and
\`node build/ace.js queue:work\` with explicit environment variables, seeds, runs the scenarios,
writes \`bench/results/<timestamp>.json\` and this file.

${DATA_MARK}${JSON.stringify({ rows, floors })} -->
`
  writeFileSync(file, text)
}

/**
 * Rows for a scenario that cannot run: "not available" when what it needs
 * does not exist on this build, "failed" when it exists but misbehaves.
 */
export function blocked(
  scenario: string,
  metrics: Array<[metric: string, target?: string]>,
  problem: { reason: string; missing: boolean }
): Row[] {
  return metrics.map(([metric, target]) => ({
    ...(problem.missing
      ? notAvailable(scenario, metric, problem.reason)
      : failed(scenario, metric, problem.reason)),
    target,
  }))
}
