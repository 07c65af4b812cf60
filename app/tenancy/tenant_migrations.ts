import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import app from '@adonisjs/core/services/app'
import type { BaseSchema } from '@adonisjs/lucid/schema'
import type { QueryClientContract } from '@adonisjs/lucid/types/database'
import { secureSchemaSql } from '#tenancy/runtime_role'
import { platformDb } from '#tenancy/platform'
import { transactionQueries } from '#tenancy/sql_script'
import { quoteIdent, spareSchema, tenantSearchPath } from '#tenancy/schema'

/**
 * A tenant migration, compiled once per process into plain SQL.
 *
 * Tenant migrations are ordinary Lucid migration classes in
 * `database/tenant_migrations/`, written with unqualified table names. They
 * are compiled with Lucid's dry run, so they must be pure schema changes
 * (no `defer`, no reads): then the same SQL serves every tenant, and
 * applying it to a schema is one round trip.
 */
export interface CompiledMigration {
  name: string
  up: string
  down: string
}

type SchemaClass = new (...args: ConstructorParameters<typeof BaseSchema>) => BaseSchema

const LEDGER_SQL = `create table schema_migrations (
  name varchar(255) primary key,
  batch integer not null,
  migrated_at timestamptz not null default now()
)`

const compiled = new Map<string, Promise<CompiledMigration[]>>()

/**
 * The application's tenant migrations: `database/tenant_migrations` under
 * the application root, so a production build reads its compiled .js files.
 */
export function tenantMigrationsPath() {
  return app.makePath('database/tenant_migrations')
}

/**
 * Every tenant migration of `directory` in order, compiled (cached per
 * directory for the process).
 */
export function tenantMigrations(
  directory: string = tenantMigrationsPath()
): Promise<CompiledMigration[]> {
  let migrations = compiled.get(directory)
  if (!migrations) {
    migrations = compileAll(directory).catch((error) => {
      compiled.delete(directory)
      throw error
    })
    compiled.set(directory, migrations)
  }
  return migrations
}

async function compileAll(directory: string): Promise<CompiledMigration[]> {
  const entries = await readdir(directory)
  const files = entries
    .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))

  const migrations: CompiledMigration[] = []
  for (const file of files) {
    const name = file.replace(/\.(ts|js)$/, '')
    const { default: Schema } = (await import(pathToFileURL(join(directory, file)).href)) as {
      default: SchemaClass
    }
    migrations.push({
      name,
      up: await compile(Schema, name, 'up'),
      down: await compile(Schema, name, 'down'),
    })
  }
  return migrations
}

async function compile(Schema: SchemaClass, name: string, direction: 'up' | 'down') {
  const schema = new Schema(platformDb(), name, true)
  const queries = (direction === 'up' ? await schema.execUp() : await schema.execDown()) as
    string[] | true
  // A dry run skips `defer` callbacks silently; refuse them instead.
  const tracked: unknown[] = (schema as unknown as { trackedCalls: unknown[] }).trackedCalls
  if (!Array.isArray(queries) || tracked.some((call) => typeof call === 'function')) {
    throw new Error(`Tenant migration "${name}" must be a pure schema change (no defer calls)`)
  }
  return queries.map((sql) => sql.trim().replace(/;$/, '')).join(';\n')
}

function literal(value: string) {
  return `'${value.replaceAll("'", "''")}'`
}

/**
 * SQL that enters the tenant's schema for the current transaction.
 */
export function enterSchemaSql(tenantId: number) {
  return `select set_config('search_path', ${literal(tenantSearchPath(tenantId))}, true)`
}

/**
 * The same for a spare schema of the pool (named from its spare id).
 */
export function enterSpareSql(spareId: number) {
  const path = `${quoteIdent(spareSchema(spareId))}, public`
  return `select set_config('search_path', ${literal(path)}, true)`
}

/**
 * Where a migration script runs and where it records the version it
 * reaches: a tenant (mirror in public.tenants) or a spare of the pool
 * (mirror in public.tenant_spares).
 */
export type MigrationTarget = { tenantId: number } | { spareId: number }

function enterTargetSql(target: MigrationTarget) {
  return 'tenantId' in target ? enterSchemaSql(target.tenantId) : enterSpareSql(target.spareId)
}

function mirrorSql(target: MigrationTarget, version: string | null) {
  const value = version === null ? 'null' : literal(version)
  return 'tenantId' in target
    ? `update public.tenants set migration_version = ${value}, updated_at = now() where id = ${target.tenantId}`
    : `update public.tenant_spares set migration_version = ${value} where id = ${target.spareId}`
}

/**
 * SQL that applies `migrations` to a tenant's schema: the changes, the
 * rows of its ledger, and the platform mirror of its version. Sent as one
 * simple-protocol query, it runs as one transaction (or inside the caller's).
 */
export function applySql(
  tenantId: number,
  migrations: CompiledMigration[],
  batch: number | 'next'
) {
  return applyToSql({ tenantId }, migrations, batch)
}

/**
 * applySql for any target, a tenant or a spare schema of the pool.
 */
export function applyToSql(
  target: MigrationTarget,
  migrations: CompiledMigration[],
  batch: number | 'next'
) {
  const statements = [enterTargetSql(target)]
  const names = migrations.map((migration) => literal(migration.name)).join(', ')
  // 'next': one more than the schema's newest batch before this run,
  // read by a CTE: Citus refuses a subquery in VALUES and mis-deparses an
  // INSERT … SELECT aggregating its own single-shard table.
  for (const migration of migrations) {
    statements.push(migration.up)
    statements.push(
      batch === 'next'
        ? `with next as (select coalesce(max(batch), 0) + 1 as batch from schema_migrations where name not in (${names})) insert into schema_migrations (name, batch) select ${literal(migration.name)}, batch from next`
        : `insert into schema_migrations (name, batch) values (${literal(migration.name)}, ${batch})`
    )
  }
  const version = migrations.at(-1)?.name
  if (version) {
    statements.push(mirrorSql(target, version))
  }
  // Grants and guard policies for whatever tables the schema now holds. A
  // spare is secured by the pool (TenantPool appends secureSpareSql).
  if ('tenantId' in target) statements.push(secureSchemaSql(target.tenantId))
  return statements.join(';\n')
}

/**
 * SQL that reverts `migrations` (newest first) and records the version
 * that remains.
 */
export function revertSql(tenantId: number, migrations: CompiledMigration[], remaining?: string) {
  const statements = [enterSchemaSql(tenantId)]
  for (const migration of [...migrations].reverse()) {
    statements.push(migration.down)
    statements.push(`delete from schema_migrations where name = ${literal(migration.name)}`)
  }
  statements.push(
    `update public.tenants set migration_version = ${remaining ? literal(remaining) : 'null'}, updated_at = now() where id = ${tenantId}`
  )
  statements.push(secureSchemaSql(tenantId))
  return statements.join(';\n')
}

const citusByConnection = new Map<string, Promise<boolean>>()

/**
 * Whether the database behind a connection runs Citus (the extension is
 * installed in it). Asked once per connection and process.
 */
export function onCitus(client: QueryClientContract): Promise<boolean> {
  const name = client.connectionName
  let answer = citusByConnection.get(name)
  if (!answer) {
    answer = client
      .rawQuery(`select exists (select 1 from pg_extension where extname = 'citus') as citus`)
      .then(({ rows }) => rows[0].citus === true)
      .catch((error) => {
        citusByConnection.delete(name)
        throw error
      })
    citusByConnection.set(name, answer)
  }
  return answer
}

/**
 * Runs a script of several statements as one transaction (or inside the
 * client's), straight to the driver. On plain PostgreSQL it is one
 * simple-protocol query: one round trip, run as one implicit transaction.
 * On Citus (or with `split: true`) the statements Citus forwards verbatim
 * to its workers go as queries of their own, the others still joined, in
 * one transaction (app/tenancy/sql_script.ts). Without parameters the SQL
 * reaches PostgreSQL untouched: Knex's `rawQuery` would rewrite every "?"
 * (in a literal, a comment, the jsonb operator) as a placeholder, and
 * prefix an error's message with the whole script.
 */
export async function runScript(
  client: QueryClientContract,
  sql: string,
  options: { split?: boolean } = {}
): Promise<void> {
  const split = options.split ?? (await onCitus(client))
  const queries = split ? transactionQueries(sql, client.isTransaction) : [sql]
  const knex = client.getWriteClient().client
  const connection = await knex.acquireConnection()
  const ownTransaction = !client.isTransaction && queries.length > 1
  try {
    for (const query of queries) await connection.query(query)
  } catch (error) {
    if (ownTransaction) await connection.query('rollback').catch(() => {})
    throw error
  } finally {
    await knex.releaseConnection(connection)
  }
}

/**
 * The whole schema of a new tenant at the latest version (or at the last
 * of `migrations`): schema, ledger, every migration. Used by the
 * provisioner inside its transaction.
 */
export async function provisionSql(
  tenantId: number,
  schemaIdent: string,
  migrations?: CompiledMigration[]
) {
  return buildSql({ tenantId }, schemaIdent, migrations ?? (await tenantMigrations()))
}

/**
 * The whole schema of a spare of the pool at the latest version.
 */
export async function spareSql(spareId: number) {
  return buildSql({ spareId }, quoteIdent(spareSchema(spareId)), await tenantMigrations())
}

function buildSql(target: MigrationTarget, schemaIdent: string, migrations: CompiledMigration[]) {
  return [
    `create schema ${schemaIdent}`,
    enterTargetSql(target),
    LEDGER_SQL,
    applyToSql(target, migrations, 1),
  ].join(';\n')
}
