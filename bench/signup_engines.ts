/**
 * Sign-up provisioning time on the database the environment points at
 * (plain PostgreSQL or a Citus coordinator): N tenants provisioned one
 * after another in-process by the real `TenantProvisioner` (tenant row,
 * schema with every table and index, owner; one transaction), with a
 * precomputed password hash, after a few warm-up tenants. Prints one JSON
 * line: p50 / p90 in ms and the engine.
 *
 *   DB_PORT=5432 node --import=@poppinss/ts-exec bench/signup_engines.ts 40
 *   DB_PORT=9700 node --import=@poppinss/ts-exec bench/signup_engines.ts 40
 *
 * Uses the app's own configuration (start/env.ts), so DB_* and NODE_ENV
 * decide the database; run it against a migrated database you can fill
 * with throwaway tenants.
 */
import 'reflect-metadata'
import { Ignitor } from '@adonisjs/core'
import { percentile } from './lib/stats.ts'

const args = process.argv.slice(2)
const count = Number(args.find((arg) => !arg.startsWith('--')) ?? 40)
const withPool = args.includes('--pool')
const warmup = 3
const APP_ROOT = new URL('../', import.meta.url)
const app = new Ignitor(APP_ROOT, {
  importer: (filePath: string) =>
    filePath.startsWith('./') || filePath.startsWith('../')
      ? import(new URL(filePath, APP_ROOT).href)
      : import(filePath),
})
  .tap((application) => {
    application.booting(async () => {
      await import('#start/env')
    })
  })
  .createApp('console')
await app.init()
await app.boot()
await app.start(() => {})

const { TenantProvisioner } = await import('#tenancy/tenant_provisioner')
const { TenantPool } = await import('#tenancy/tenant_pool')
const { default: hash } = await import('@adonisjs/core/services/hash')
const { default: db } = await import('@adonisjs/lucid/services/db')

const { rows } = await db.rawQuery(`select extversion from pg_extension where extname = 'citus'`)
const passwordHash = await hash.make('bench password')
const run = Date.now().toString(36)
if (withPool) {
  const pool = new TenantPool()
  const { total } = await pool.status()
  await pool.fill({ size: total + count + warmup })
}
const times: number[] = []
const origins: Record<string, number> = {}
for (let index = 0; index < count + warmup; index++) {
  const name = `signup-${run}-${index}`
  const started = performance.now()
  const { schema } = await new TenantProvisioner().provision({
    name: `Engines ${name}`,
    owner: { username: name, email: `${name}@example.com`, passwordHash },
  })
  if (index >= warmup) {
    times.push(performance.now() - started)
    origins[schema] = (origins[schema] ?? 0) + 1
  }
}
console.log(
  JSON.stringify({
    engine: rows[0] ? `Citus ${rows[0].extversion}` : 'PostgreSQL',
    tenants: count,
    p50: percentile(times, 50),
    p90: percentile(times, 90),
    schemas: origins,
  })
)
await app.terminate()
