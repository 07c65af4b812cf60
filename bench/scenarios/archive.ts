import { spawn } from 'node:child_process'
import { readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchContext, Scenario } from '../lib/context.ts'
import { ROOT } from '../lib/env.ts'
import { compared, notAvailable, type Row } from '../lib/report.ts'
import { seedTenant, seedUsers } from '../lib/seed.ts'

/**
 * archive: `tenants:export` and `tenants:import` of one tenant with
 * 100,000 products and 50,000 orders (two lines each, with their ledger
 * movements: about 300,000 movements and 100,000 items), run as an
 * operator does (`node build/ace.js …`, process start included), timed to
 * exit, with the process's peak resident memory (VmHWM, polled).
 *
 * Floors, on the same data in the same run (memory: the peak RSS of the
 * same built app booting and running `tenants:list --json`):
 * - export: `pg_dump --data-only --schema=<tenant>` piped through gzip;
 * - import: that dump replayed by `psql --single-transaction` into an
 *   empty schema of the same name built by the application's compiled
 *   provisioning SQL.
 * Reported, no target (the issue asks for the figures).
 */
const PRODUCTS = { full: 100_000, quick: 10_000 }
const ORDERS = { full: 50_000, quick: 5_000 }

interface Measured {
  code: number | null
  ms: number
  peakMiB: number | null
  output: string
}

/**
 * Runs a command to its end, polling its peak RSS from /proc.
 */
function measure(command: string, args: string[], env: Record<string, string>, shell = false) {
  return new Promise<Measured>((resolve) => {
    const started = performance.now()
    const child = shell
      ? spawn('bash', ['-c', command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    let peak: number | null = null
    const poll = setInterval(async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
        const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1])
        if (kib) peak = Math.max(peak ?? 0, kib / 1024)
      } catch {}
    }, 50)
    child.on('exit', (code) => {
      clearInterval(poll)
      resolve({ code, ms: performance.now() - started, peakMiB: peak, output })
    })
  })
}

export const archive: Scenario = {
  name: 'archive',
  needs: {},
  async run(ctx: BenchContext): Promise<Row[]> {
    for (const command of ['tenants:export', 'tenants:import']) {
      if (!ctx.commands.has(command)) {
        return [notAvailable('archive', command, `node build/ace.js ${command} does not exist`)]
      }
    }
    const products = ctx.quick ? PRODUCTS.quick : PRODUCTS.full
    const orders = ctx.quick ? ORDERS.quick : ORDERS.full
    ctx.log(`archive: seeding a tenant with ${products} products and ${orders} orders…`)
    const tenant = await seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
      products,
      stock: 1000,
      customers: 0,
    })
    const customers = await seedUsers(
      ctx.app,
      ctx.pool,
      [tenant.id],
      'customer',
      200,
      ctx.passwordHash
    )
    const schema = ctx.app.quoteIdent(ctx.app.tenantSchema(tenant.id))
    await ctx.pool.query(
      `insert into ${schema}.orders (status, customer_id, total, created_at, confirmed_at)
       select 'confirmed', (array[${customers.map((c) => c.id).join(',')}])[1 + g % ${customers.length}],
              0, now(), now()
       from generate_series(1, ${orders}) g`
    )
    await ctx.pool.query(
      `insert into ${schema}.order_items (order_id, product_id, sku, name, unit_price, qty, line_total)
       select o.id, p.id, p.sku, p.name, p.price, 1, p.price
       from ${schema}.orders o
       cross join lateral (values (1 + (o.id * 2) % ${products}), (1 + (o.id * 2 + 1) % ${products})) k(pid)
       join ${schema}.products p on p.id = k.pid`
    )
    await ctx.pool.query(
      `update ${schema}.orders o set total = s.total
       from (select order_id, sum(line_total) as total from ${schema}.order_items group by order_id) s
       where s.order_id = o.id`
    )
    await ctx.pool.query(
      `insert into ${schema}.stock_movements (product_id, delta, reason, kind, order_id)
       select product_id, -qty, 'order', 'order', order_id from ${schema}.order_items`
    )
    await ctx.pool.query(
      `update ${schema}.products p set stock = p.stock - s.qty
       from (select product_id, sum(qty)::int as qty from ${schema}.order_items group by product_id) s
       where s.product_id = p.id`
    )
    await ctx.pool.query(`vacuum analyze ${schema}.products`)
    const { rows: counts } = await ctx.pool.query(
      `select (select count(*) from ${schema}.products)::int as products,
              (select count(*) from ${schema}.orders)::int as orders,
              (select count(*) from ${schema}.order_items)::int as items,
              (select count(*) from ${schema}.stock_movements)::int as movements,
              (select sum(stock) from ${schema}.products)::bigint as stock`
    )
    const before = counts[0]
    const rowsInAll = before.products + before.orders + before.items + before.movements

    const file = join(tmpdir(), `bench-archive-${process.pid}.tenant.gz`)
    const dump = join(tmpdir(), `bench-archive-${process.pid}.sql.gz`)
    const env = ctx.env.common
    const pgEnv = {
      ...env,
      PGHOST: env.DB_HOST,
      PGPORT: env.DB_PORT,
      PGUSER: env.DB_USER,
      PGPASSWORD: env.DB_PASSWORD,
      PGDATABASE: env.DB_DATABASE,
    }
    const rows: Row[] = []
    try {
      await rm(file, { force: true })
      const exported = await measure(
        process.execPath,
        ['build/ace.js', 'tenants:export', String(tenant.id), '--out', file],
        env
      )
      if (exported.code !== 0)
        throw new Error(`tenants:export failed: ${exported.output.slice(-500)}`)
      const { size } = await stat(file)
      const exportFloor = await measure(
        `pg_dump --data-only --schema='tenant_${tenant.id}' --exclude-table-data='tenant_${tenant.id}.schema_migrations' | gzip -6 > '${dump}'`,
        [],
        pgEnv,
        true
      )
      if (exportFloor.code !== 0) throw new Error(`pg_dump failed: ${exportFloor.output}`)
      const { size: dumpSize } = await stat(dump)
      // Memory floor: the same process booting and running one query.
      const idle = await measure(process.execPath, ['build/ace.js', 'tenants:list', '--json'], env)

      // Drop the tenant, replay the dump into an empty schema (the floor), then drop that.
      await ctx.pool.query('delete from public.tenants where id = $1', [tenant.id])
      await ctx.pool.query(`drop schema ${schema} cascade`)
      await ctx.pool.query(await ctx.app.provisionSql(tenant.id, schema))
      const importFloor = await measure(
        `gunzip -c '${dump}' | psql -q -v ON_ERROR_STOP=1 --single-transaction > /dev/null`,
        [],
        pgEnv,
        true
      )
      if (importFloor.code !== 0) throw new Error(`psql failed: ${importFloor.output.slice(-500)}`)
      await ctx.pool.query(`drop schema ${schema} cascade`)

      const imported = await measure(
        process.execPath,
        ['build/ace.js', 'tenants:import', file],
        env
      )
      if (imported.code !== 0)
        throw new Error(`tenants:import failed: ${imported.output.slice(-500)}`)
      const { rows: found } = await ctx.pool.query(
        `select id from public.tenants where name like 'Bench store %' order by id desc limit 1`
      )
      const copy = ctx.app.quoteIdent(ctx.app.tenantSchema(found[0].id))
      const { rows: after } = await ctx.pool.query(
        `select (select count(*) from ${copy}.products)::int as products,
                (select count(*) from ${copy}.orders)::int as orders,
                (select count(*) from ${copy}.order_items)::int as items,
                (select count(*) from ${copy}.stock_movements)::int as movements,
                (select sum(stock) from ${copy}.products)::bigint as stock`
      )
      const same = JSON.stringify(after[0]) === JSON.stringify(before)
      const what =
        `${before.products.toLocaleString('en-US')} products, ${before.orders.toLocaleString('en-US')} orders, ` +
        `${before.items.toLocaleString('en-US')} items, ${before.movements.toLocaleString('en-US')} movements ` +
        `(${rowsInAll.toLocaleString('en-US')} rows), 201 users`
      const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
      rows.push(
        compared({
          scenario: 'archive',
          metric: 'tenants:export time',
          value: exported.ms / 1000,
          unit: 's',
          floor: exportFloor.ms / 1000,
          floorName: 'pg_dump --data-only of the schema | gzip',
          note: `${what}; archive ${mib(size)}, dump ${mib(dumpSize)}; process start included`,
        }),
        compared({
          scenario: 'archive',
          metric: 'tenants:export peak memory (RSS)',
          value: exported.peakMiB,
          unit: 'MiB',
          floor: idle.peakMiB,
          floorName: 'tenants:list --json, same process',
        }),
        compared({
          scenario: 'archive',
          metric: 'tenants:import time',
          value: imported.ms / 1000,
          unit: 's',
          floor: importFloor.ms / 1000,
          floorName: 'psql --single-transaction replaying that dump',
          note: `one transaction, both passes (check, then import); ${same ? 'counts and total stock equal after import' : `MISMATCH after import: ${JSON.stringify(after[0])} vs ${JSON.stringify(before)}`}`,
        }),
        compared({
          scenario: 'archive',
          metric: 'tenants:import peak memory (RSS)',
          value: imported.peakMiB,
          unit: 'MiB',
          floor: idle.peakMiB,
          floorName: 'tenants:list --json, same process',
        })
      )
    } finally {
      await rm(file, { force: true })
      await rm(dump, { force: true })
    }
    return rows
  },
}
