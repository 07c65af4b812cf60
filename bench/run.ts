/**
 * `npm run bench [-- <scenario>… ] [--quick] [--md]`
 *
 * Brings up the built API and worker against a scratch database, seeds,
 * runs the scenarios with their floors, prints a table, writes
 * bench/results/<timestamp>.json and rewrites BENCHMARKS.md (a --quick run
 * only with --md). See docs/design/benchmarks.md.
 */
import pg from 'pg'
import { Redis } from 'ioredis'
import { bootApp } from './lib/app.ts'
import { ensureBuild } from './lib/build.ts'
import type { BenchContext, FloorName, Scenario } from './lib/context.ts'
import { sizesFor } from './lib/context.ts'
import {
  connectionOptions,
  dropDatabase,
  migratePlatform,
  recreateDatabase,
} from './lib/database.ts'
import { benchEnv } from './lib/env.ts'
import {
  Child,
  freePort,
  productionNodeFlags,
  runToEnd,
  stopAllChildren,
  waitForHttp,
} from './lib/processes.ts'
import {
  failed,
  machine,
  printTable,
  writeBenchmarksMd,
  writeResults,
  type Row,
  type RunRecord,
} from './lib/report.ts'
import { sleep } from './lib/stats.ts'
import { measureQueueFloor } from './floors/queue.ts'
import { measureReadFloor } from './floors/read.ts'
import { archive } from './scenarios/archive.ts'
import { fairness } from './scenarios/fairness.ts'
import { memory } from './scenarios/memory.ts'
import { migrate } from './scenarios/migrate.ts'
import { pipeline } from './scenarios/pipeline.ts'
import { provisioning } from './scenarios/provisioning.ts'
import { read } from './scenarios/read.ts'
import { scale } from './scenarios/scale.ts'
import { write } from './scenarios/write.ts'
import { webhooks } from './scenarios/webhooks.ts'

const SCENARIOS: Scenario[] = [
  read,
  write,
  pipeline,
  fairness,
  provisioning,
  scale,
  migrate,
  webhooks,
  archive,
  memory,
]
const ORDER = SCENARIOS.map((scenario) => scenario.name)
/** no scenario may run longer than this */
const SCENARIO_LIMIT_MS = 20 * 60_000

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`)

function parseArgs(argv: string[]) {
  const flags = new Set(argv.filter((arg) => arg.startsWith('--')))
  const names = argv.filter((arg) => !arg.startsWith('--'))
  const unknown = names.filter((name) => !ORDER.includes(name))
  if (unknown.length || flags.has('--help')) {
    process.stdout.write(
      `usage: npm run bench -- [${ORDER.join('|')}]… [--quick] [--md]\n` +
        (unknown.length ? `unknown scenario: ${unknown.join(', ')}\n` : '')
    )
    process.exit(unknown.length ? 2 : 0)
  }
  const selected = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS
  return {
    selected,
    quick: flags.has('--quick'),
    writeMd: !flags.has('--quick') || flags.has('--md'),
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The build's ace commands and their flags (`node build/ace.js list --json`).
 */
async function listCommands(env: Record<string, string>) {
  const result = await runToEnd(process.execPath, ['build/ace.js', 'list', '--json'], {
    env,
    timeoutMs: 30_000,
  })
  const commands = new Set<string>()
  const flags = new Map<string, string[]>()
  try {
    for (const command of JSON.parse(result.output.slice(result.output.indexOf('[')))) {
      commands.add(command.commandName)
      flags.set(
        command.commandName,
        (command.flags ?? []).map((flag: { name: string }) => flag.name)
      )
    }
  } catch {
    log(`could not list the ace commands: ${result.output.slice(0, 300)}`)
  }
  return { commands, flags }
}

async function main() {
  const started = Date.now()
  const { selected, quick, writeMd } = parseArgs(process.argv.slice(2))
  const env = benchEnv()
  const sizes = sizesFor(quick)
  log(`scenarios: ${selected.map((s) => s.name).join(', ')}${quick ? ' (quick)' : ''}`)

  await ensureBuild(log)
  const { commands, flags } = await listCommands(env.common)

  log(`recreating database ${env.database}, Redis DB ${env.redisDb}`)
  await recreateDatabase(env, env.database)
  await migratePlatform(env)
  const redis = new Redis({
    host: env.common.REDIS_HOST,
    port: Number(env.common.REDIS_PORT),
    password: env.common.REDIS_PASSWORD || undefined,
    db: env.redisDb,
    maxRetriesPerRequest: 1,
  })
  await redis.flushdb()

  const app = await bootApp(env)
  const pgOptions = connectionOptions(env)
  const pool = new pg.Pool({ ...pgOptions, max: 4 })
  const passwordHash = await app.hashPassword('bench-password-1')
  const info = machine()
  const version = await pool.query('select version() as v')
  info.postgres = version.rows[0].v.split(' on ')[0]
  info.redis = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1]

  let worker: Child | undefined
  const workerAvailable = commands.has('queue:work')
  const ctx: BenchContext = {
    env,
    quick,
    sizes,
    app,
    pool,
    pgOptions,
    redis,
    passwordHash,
    commands,
    commandFlags: flags,
    floors: { errors: {} },
    log,
    worker: {
      available: workerAvailable,
      reason: workerAvailable
        ? undefined
        : 'node build/ace.js queue:work does not exist on this build yet',
      get running() {
        return Boolean(worker?.alive)
      },
      async start() {
        if (worker?.alive) return
        const args = ['build/ace.js', 'queue:work']
        worker = new Child(
          'worker',
          process.execPath,
          [...productionNodeFlags('worker', args), ...args],
          { ...env.common, PGAPPNAME: 'bench-worker' }
        )
        await sleep(1500)
        if (!worker.alive) {
          ctx.worker.available = false
          ctx.worker.reason = `queue:work exited (${worker.exitCode}): ${worker.output.slice(-300)}`
          throw new Error(ctx.worker.reason)
        }
      },
      async stop() {
        await worker?.stop(15_000)
      },
    },
  }

  const rows: Row[] = []
  const measured = new Set<FloorName>()
  const floorMeasurers: Record<FloorName, (c: BenchContext) => Promise<void>> = {
    read: measureReadFloor,
    queue: measureQueueFloor,
  }

  try {
    if (selected.some((scenario) => scenario.needs.api)) {
      const port = await freePort()
      // node flags as `npm start` has them (package.json), so the bench measures that process
      const args = ['build/bin/server.js']
      const child = new Child(
        'api',
        process.execPath,
        [...productionNodeFlags('start', args), ...args],
        { ...env.common, PORT: String(port), PGAPPNAME: 'bench-api' }
      )
      const url = `http://127.0.0.1:${port}`
      await waitForHttp(`${url}/health/ready`, child)
      ctx.api = { url, child }
      log(`API listening on ${url}`)
    }
    if (workerAvailable && selected.some((scenario) => scenario.needs.worker)) {
      await ctx.worker.start().catch((error) => log(`worker: ${error.message}`))
    }

    for (const scenario of selected) {
      for (const floor of scenario.needs.floors ?? []) {
        if (measured.has(floor) || (floor === 'read' && ctx.floors.read)) continue
        measured.add(floor)
        log(`measuring the ${floor} floor…`)
        try {
          await withTimeout(floorMeasurers[floor](ctx), SCENARIO_LIMIT_MS, `${floor} floor`)
        } catch (error) {
          ctx.floors.errors[floor] =
            error instanceof Error ? error.message.slice(0, 300) : String(error)
          log(`${floor} floor failed: ${ctx.floors.errors[floor]}`)
        }
      }
      log(`running ${scenario.name}…`)
      const scenarioStarted = Date.now()
      try {
        if (scenario.needs.api && !ctx.api?.child.alive) throw new Error('the API is not running')
        const result = await withTimeout(scenario.run(ctx), SCENARIO_LIMIT_MS, scenario.name)
        rows.push(...result)
        printTable(result, log)
      } catch (error) {
        log(`${scenario.name} failed: ${error instanceof Error ? error.stack : error}`)
        rows.push(failed(scenario.name, '—', error))
      }
      log(`${scenario.name} took ${((Date.now() - scenarioStarted) / 1000).toFixed(0)} s`)
    }
  } finally {
    await ctx.worker.stop()
    await ctx.api?.child.stop()
    await app.terminate().catch(() => {})
    await pool.end()
    redis.disconnect()
    stopAllChildren()
    // The bench database and its runtime role go: no role left behind.
    await dropDatabase(env, env.database).catch((error) => log(`cleanup failed: ${error}`))
  }

  const floors = floorRows(ctx)
  const record: RunRecord = {
    date: new Date().toISOString(),
    quick,
    scenarios: selected.map((scenario) => scenario.name),
    machine: info,
    rows,
    floors,
    seconds: Math.round((Date.now() - started) / 1000),
  }
  log('')
  printTable([...rows, ...floors], log)
  const file = writeResults(record)
  log(`results: ${file}`)
  if (writeMd) {
    writeBenchmarksMd(record, [...ORDER, 'floor'])
    log('BENCHMARKS.md updated')
  }
  log(`done in ${record.seconds} s`)
}

function floorRows(ctx: BenchContext): Row[] {
  const floors = ctx.floors
  const row = (
    metric: string,
    value: number | null | undefined,
    unit: string,
    note: string
  ): Row => ({
    scenario: 'floor',
    metric,
    value: value ?? null,
    unit,
    status: 'measured',
    note,
  })
  const rows: Row[] = []
  if (floors.read) {
    const note =
      'bare node:http + pg: JWT check; BEGIN + set_config + principal check, the page with its total from a scalar count subquery, COMMIT (3 round trips); 50 connections'
    rows.push(row('read floor req/s', floors.read.rps, 'req/s', note))
    rows.push(row('read floor p50', floors.read.p50, 'ms', note))
    rows.push(row('read floor p99', floors.read.p99, 'ms', note))
  }
  if (floors.queueEmpty) {
    rows.push(
      row(
        'queue floor, empty jobs',
        floors.queueEmpty.rate,
        'jobs/s',
        `bare BullMQ worker (concurrency ${ctx.env.common.WORKER_CONCURRENCY}) draining a pre-filled queue`
      )
    )
  }
  if (floors.queueTransaction) {
    rows.push(
      row(
        'queue floor, 1 transaction/job',
        floors.queueTransaction.rate,
        'jobs/s',
        'the same, each job BEGIN + set_config, one select … for update, COMMIT (3 round trips) with pg'
      )
    )
  }
  if (floors.ddl) {
    const note =
      'provisionSql of one tenant schema as one simple-protocol query (one transaction, commit included)'
    rows.push(row('DDL floor p50', floors.ddl.p50, 'ms', note))
    rows.push(row('DDL floor p99', floors.ddl.p99, 'ms', note))
  }
  for (const [name, error] of Object.entries(floors.errors)) {
    rows.push(failed('floor', `${name} floor`, error))
  }
  return rows
}

main().then(
  () => process.exit(0),
  (error) => {
    stopAllChildren()
    process.stderr.write(`[bench] ${error instanceof Error ? error.stack : error}\n`)
    process.exit(1)
  }
)
