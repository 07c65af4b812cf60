import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import app from '@adonisjs/core/services/app'
import db from '#tests/support/platform_db'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { sqlTokens } from '#tenancy/sql_script'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'
import { fixturePasswordHash } from '#tests/support/fixtures'

/**
 * Test helpers of the tenancy area: many tenants at once, throwaway
 * migration directories, SQL inspection for the Citus rules.
 */
let counter = 0

/**
 * Provisions `count` tenants (with owners, through the real provisioner),
 * `concurrency` at a time. Returns their ids in ascending order.
 */
export async function provisionTenants(count: number, concurrency = 4): Promise<number[]> {
  const passwordHash = await fixturePasswordHash()
  const run = `${process.pid}x${Date.now().toString(36)}`
  const ids: number[] = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      const n = `${run}x${next++}x${++counter}`
      const { tenant } = await new TenantProvisioner().provision({
        name: `Bulk ${n}`,
        owner: { username: `bulk${n}`, email: `bulk${n}@example.com`, passwordHash },
      })
      ids.push(tenant.id)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ids.sort((a, b) => a - b)
}

/**
 * Deletes tenants (schemas and platform rows), a few per transaction so a
 * transaction never holds too many locks.
 */
export async function dropTenants(ids: number[]) {
  for (let start = 0; start < ids.length; start += 20) {
    const chunk = ids.slice(start, start + 20)
    await db.transaction(async (trx) => {
      await trx.rawQuery('delete from public.tenants where id = any(?)', [chunk])
      for (const id of chunk) {
        await trx.rawQuery(`drop schema if exists ${quoteIdent(tenantSchema(id))} cascade`)
      }
    })
  }
}

/**
 * A directory of tenant migrations under the project's tmp/ folder (so
 * `@adonisjs/lucid/schema` resolves), starting with the application's own
 * migrations re-exported, followed by `extra` (file name → source).
 */
export async function tenantMigrationsFixture(extra: Record<string, string>) {
  const directory = app.makePath('tmp', `tenant_migrations_${process.pid}_${++counter}`)
  await mkdir(directory, { recursive: true })
  // The application's own migrations first, re-exported.
  for (const file of await readdir(app.makePath('database/tenant_migrations'))) {
    if (!/\.(ts|js)$/.test(file) || file.endsWith('.d.ts')) continue
    const name = file.replace(/\.(ts|js)$/, '')
    await writeFile(
      join(directory, `${name}.ts`),
      `export { default } from '#database/tenant_migrations/${name}'\n`
    )
  }
  for (const [file, source] of Object.entries(extra)) {
    await writeFile(join(directory, file), source)
  }
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) }
}

export { splitStatements } from '#tenancy/sql_script'

/**
 * The number of subcommands of an ALTER TABLE statement (commas at the top
 * level, outside parentheses and quotes, separate them); 0 for any other
 * statement.
 */
export function alterTableSubcommands(statement: string): number {
  if (!/^\s*alter\s+table\b/i.test(statement)) return 0
  let depth = 0
  let subcommands = 1
  for (const token of sqlTokens(statement)) {
    if (token === '(') depth++
    else if (token === ')') depth--
    else if (token === ',' && depth === 0) subcommands++
  }
  return subcommands
}
