import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import type { CompiledMigration } from '#tenancy/tenant_migrations'
import { buildTenantMigrationsDir, removeBenchMigrations } from '../lib/build.ts'
import type { BenchContext, Scenario } from '../lib/context.ts'
import {
  connectionOptions,
  dropDatabase,
  migratePlatform,
  parallelSql,
  recreateDatabase,
} from '../lib/database.ts'
import { runToEnd } from '../lib/processes.ts'
import { compared, failed, notAvailable, type Row } from '../lib/report.ts'
import { bulkTenants } from '../lib/seed.ts'

/**
 * migrate: one new tenant migration (add a column) over 1,000 and then
 * 10,000 schemas, and a no-op run over 10,000, in a database of its own
 * (`<DB_DATABASE>_bench_migrate`, so the counts are exact).
 *
 * Product figure: `node build/ace.js tenants:migrate`, timed from process
 * start to exit, with the new migration dropped into
 * build/database/tenant_migrations/ (removed afterwards).
 *
 * Floor: the same change through the application's compiled SQL
 * (`applySql`, one round trip per schema) over BENCH_PARALLEL parallel
 * connections, then reverted (`revertSql`, not timed) so the product run
 * starts from the same state. This floor excludes process start, which
 * the command pays (about a second for Node and the app's boot). The
 * no-op floor is a bare Node process that connects and runs the one query
 * that finds the schemas behind.
 *
 * Targets (issue 15): 10,000 schemas in ≤ 3 s; no-op ≤ 0.5 s, process start
 * included in both.
 */
function migrationFile(column: string) {
  return `import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  async up() {
    this.schema.raw('alter table products add column ${column} text')
  }

  async down() {
    this.schema.raw('alter table products drop column if exists ${column}')
  }
}
`
}

const fmtCount = (n: number) => n.toLocaleString('en-US')

const NOOP_FLOOR = `
import pg from 'pg'
const env = process.env
const client = new pg.Client({
  host: env.DB_HOST, port: Number(env.DB_PORT), user: env.DB_USER,
  password: env.DB_PASSWORD || undefined, database: env.DB_DATABASE,
})
await client.connect()
await client.query(
  'select id from public.tenants where migration_version is distinct from $1', [env.VERSION])
await client.end()
`

export const migrate: Scenario = {
  name: 'migrate',
  needs: {},
  async run(ctx: BenchContext): Promise<Row[]> {
    const database = `${ctx.env.database}_migrate`
    const options = connectionOptions(ctx.env, database)
    const rows: Row[] = []
    const command = ctx.commands.has('tenants:migrate')
    const commandArgs = ['build/ace.js', 'tenants:migrate']
    if (ctx.commandFlags.get('tenants:migrate')?.includes('force')) commandArgs.push('--force')
    const missing = 'node build/ace.js tenants:migrate does not exist on this build yet'

    const runCommand = async () => {
      const result = await runToEnd(process.execPath, commandArgs, {
        env: { ...ctx.env.common, DB_DATABASE: database, PGAPPNAME: 'bench-migrate' },
        timeoutMs: 600_000,
      })
      if (result.code !== 0) {
        throw new Error(`tenants:migrate exited with ${result.code}: ${result.output.slice(-600)}`)
      }
      return result.ms / 1000
    }

    await recreateDatabase(ctx.env, database)
    const client = new pg.Client(options)
    try {
      await migratePlatform(ctx.env, database)
      await client.connect()
      const known = await ctx.app.tenantMigrations()
      const base = known.at(-1)?.name
      const applied: CompiledMigration[] = []
      let version = base
      let total = 0

      for (const [step, size] of ctx.sizes.migrateSizes.entries()) {
        const letter = String.fromCharCode(97 + step)
        const label = `add a column, ${fmtCount(size)} schemas`

        // Grow to `size` tenants, all at the current version.
        const grown = await bulkTenants(ctx.app, options, client, size - total, {
          connections: ctx.env.parallel,
        })
        ctx.log(
          `migrate: ${fmtCount(size - total)} schemas provisioned in ${(grown.ms / 1000).toFixed(1)} s`
        )
        if (applied.length) {
          await parallelSql(
            options,
            grown.ids,
            ctx.env.parallel,
            async (connection, id) => {
              await connection.query(ctx.app.applySql(id, applied, 2))
            },
            { seeding: true }
          )
        }
        total = size
        const { rows: tenants } = await client.query('select id from public.tenants order by id')
        const ids: number[] = tenants.map((row) => row.id)

        // Floor: applySql over parallel connections, then reverted.
        const floorMigration: CompiledMigration = {
          name: `9${step}50_bench_floor_${letter}`,
          up: `alter table products add column bench_floor_${letter} text`,
          down: `alter table products drop column bench_floor_${letter}`,
        }
        const floorMs = await parallelSql(
          options,
          ids,
          ctx.env.parallel,
          async (connection, id) => {
            await connection.query(ctx.app.applySql(id, [floorMigration], 90))
          }
        )
        await parallelSql(
          options,
          ids,
          ctx.env.parallel,
          async (connection, id) => {
            await connection.query(ctx.app.revertSql(id, [floorMigration], version))
          },
          { seeding: true }
        )
        ctx.log(`migrate: floor ${label} in ${(floorMs / 1000).toFixed(1)} s`)

        const atTarget = size >= 10_000
        if (!command) {
          rows.push({
            ...notAvailable('migrate', label, missing),
            target: atTarget ? '≤ 3 s' : undefined,
            floor: floorMs / 1000,
            unit: 's',
            floorName: `applySql × ${fmtCount(size)}, ${ctx.env.parallel} connections`,
          })
          continue
        }

        const name = `900${step + 1}_bench_add_column_${letter}`
        writeFileSync(
          join(buildTenantMigrationsDir(), `${name}.js`),
          migrationFile(`bench_${letter}`)
        )
        try {
          const seconds = await runCommand()
          const { rows: check } = await client.query(
            'select count(*)::int as n from public.tenants where migration_version = $1',
            [name]
          )
          const migrated = check[0].n
          const row = compared(
            {
              scenario: 'migrate',
              metric: label,
              value: seconds,
              unit: 's',
              floor: floorMs / 1000,
              floorName: `applySql × ${fmtCount(size)}, ${ctx.env.parallel} connections`,
              target: atTarget ? '≤ 3 s' : undefined,
              note: `${fmtCount(migrated)} of ${fmtCount(size)} schemas at ${name}; process start included`,
            },
            atTarget ? { absoluteMax: 3 } : {}
          )
          if (migrated !== size) row.met = false
          rows.push(row)
          applied.push({
            name,
            up: `alter table products add column bench_${letter} text`,
            down: `alter table products drop column if exists bench_${letter}`,
          })
          version = name
        } catch (error) {
          rows.push(failed('migrate', label, error))
        }
      }

      const noopLabel = `no-op, ${fmtCount(total)} schemas`
      // Floor of a no-op: a bare Node process that connects and runs the one
      // query finding the schemas behind.
      const noop = await runToEnd(process.execPath, ['--input-type=module', '-e', NOOP_FLOOR], {
        env: { ...ctx.env.common, DB_DATABASE: database, VERSION: version ?? '' },
        timeoutMs: 30_000,
      })
      if (noop.code !== 0) throw new Error(`no-op floor failed: ${noop.output.slice(-300)}`)
      const noopFloor = noop.ms / 1000
      if (!command) {
        rows.push({
          ...notAvailable('migrate', noopLabel, missing),
          floor: noopFloor,
          floorName: 'bare node + pg process, one query',
          unit: 's',
          target: total >= 10_000 ? '≤ 0.5 s' : undefined,
        })
      } else {
        try {
          rows.push(
            compared(
              {
                scenario: 'migrate',
                metric: noopLabel,
                value: await runCommand(),
                unit: 's',
                floor: noopFloor,
                floorName: 'bare node + pg process, one query',
                target: total >= 10_000 ? '≤ 0.5 s' : undefined,
                note: 'process start included',
              },
              total >= 10_000 ? { absoluteMax: 0.5 } : {}
            )
          )
        } catch (error) {
          rows.push(failed('migrate', noopLabel, error))
        }
      }
      return rows
    } finally {
      removeBenchMigrations()
      await client.end().catch(() => {})
      await dropDatabase(ctx.env, database)
    }
  },
}
