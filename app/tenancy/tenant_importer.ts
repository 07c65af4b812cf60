import emitter from '@adonisjs/core/services/emitter'
import { platformDb } from '#tenancy/platform'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import {
  ArchiveError,
  isUserReference,
  readArchive,
  schemaTables,
  TENANT_COLUMNS,
  USER_COLUMNS,
  type ArchiveColumn,
  type ArchiveHeader,
  type ArchiveRow,
  type SchemaTable,
  type SectionStart,
} from '#tenancy/tenant_archive'
import { rawConnection, type ArchiveProgress } from '#tenancy/tenant_exporter'
import {
  applySql,
  runScript,
  tenantMigrations,
  type CompiledMigration,
} from '#tenancy/tenant_migrations'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'

/**
 * Import refused because names are taken: every conflict is listed.
 */
export class ImportConflictError extends Error {
  constructor(readonly conflicts: string[]) {
    super(`Import refused: ${conflicts.join('; ')}`)
  }
}

export interface ImportResult {
  tenant: { id: number; name: string; slug: string; schemaName: string; status: string }
  users: number
  rows: number
  /** the archive's tenant migration, and the migrations applied on top of it */
  from: string | null
  upgraded: string[]
}

/**
 * Recreates an archived tenant (see tenant_archive.ts) as a NEW tenant, in
 * one transaction: a failure at any point (a taken name, an altered line,
 * a row the schema refuses) rolls everything back and leaves nothing.
 *
 * - The archive is read twice: a first pass checks every count and digest
 *   before anything is written; the import pass checks them again (the
 *   file could change in between) inside the transaction.
 * - The schema is made at the archive's tenant migration (claimed from the
 *   pool when that is the latest, else built), the rows are loaded, then
 *   the migrations the archive predates are applied: an older archive is
 *   upgraded. An archive at a migration this application does not have is
 *   refused.
 * - Users get new ids (ids are platform-wide); tenant columns that hold a
 *   user id (see USER_REFERENCE) are mapped to them. Every other id of the
 *   tenant's schema is kept, and its sequences are set past them.
 * - A taken store name, username or email fails the import with a message
 *   naming each.
 */
export class TenantImporter {
  constructor(
    private provisioner: TenantProvisioner = new TenantProvisioner(),
    /** the tenant migrations (default: the application's) */
    private options: { directory?: string } = {}
  ) {}

  async import(
    file: string,
    options: { name?: string; onProgress?: (progress: ArchiveProgress) => void } = {}
  ): Promise<ImportResult> {
    const header = await readArchive(file)
    const migrations = await tenantMigrations(this.options.directory)
    const plan = upgradePlan(
      header,
      migrations.map((migration) => migration.name)
    )
    const total = header.sections.slice(2).reduce((sum, section) => sum + section.rows, 0)

    const result = await platformDb().transaction(async (trx) => {
      const run = new ImportRun(trx, this.provisioner, migrations, plan.at, options.name)
      await run.prepare()
      let rows = 0
      await readArchive(file, {
        sectionStart: (start) => run.sectionStart(start),
        rows: async (start, batch) => {
          await run.rows(start, batch)
          if (start.kind === 'table') {
            rows += batch.length
            options.onProgress?.({ done: rows, total })
          }
        },
        sectionEnd: (start) => run.sectionEnd(start),
      })
      const tenant = run.tenant!
      await run.finish()
      if (plan.pending.length > 0) {
        await runScript(trx, applySql(tenant.id, migrations.slice(plan.at.length), 'next'))
      }
      return {
        tenant,
        users: run.users,
        rows,
        from: header.tenant_migration,
        upgraded: plan.pending,
      }
    })
    await emitter.emit('tenant:provisioned', {
      tenantId: result.tenant.id,
      schema: result.tenant.schemaName,
      ownerId: result.tenant.ownerId ?? 0,
      // An import at the latest migration may have taken a spare: asking
      // for a refill that finds the pool full costs one deduplicated job.
      spareClaimed: true,
    })
    const { id, name, slug, schemaName, status } = result.tenant
    return { ...result, tenant: { id, name, slug, schemaName, status } }
  }
}

/**
 * The archive's migrations must be the application's first ones, in order;
 * the rest are applied after the rows are in.
 */
function upgradePlan(header: ArchiveHeader, names: string[]) {
  const at = header.migrations
  const prefix = at.every((name, index) => names[index] === name)
  if (!prefix || (header.tenant_migration ?? null) !== (at.at(-1) ?? null)) {
    throw new ArchiveError(
      `Archive refused: it is at tenant migration "${header.tenant_migration}", which this application ` +
        `does not have (its latest is "${names.at(-1)}"); import it with the release that exported it, or a newer one`
    )
  }
  return { at: names.slice(0, at.length), pending: names.slice(at.length) }
}

interface ImportedTenant {
  id: number
  name: string
  slug: string
  schemaName: string
  status: string
  ownerId?: number
}

/**
 * One import inside its transaction, fed section by section.
 */
class ImportRun {
  tenant?: ImportedTenant
  users = 0
  private archived?: { name: string; status: string; createdAt: string | null }
  private tables = new Map<string, SchemaTable>()
  private seen = new Set<string>()
  private inserts = new Map<string, string>()

  constructor(
    private trx: TransactionClientContract,
    private provisioner: TenantProvisioner,
    private migrations: CompiledMigration[],
    /** the migrations the archive's schema was at */
    private at: string[],
    private name?: string
  ) {}

  async prepare() {
    await this.trx.rawQuery("select set_config('TimeZone', 'UTC', true)")
    await this.trx.rawQuery(
      `create temporary table archive_users (
         old_id bigint primary key, username text not null, email text not null,
         password text not null, role text not null, is_active boolean not null,
         created_at timestamptz not null, updated_at timestamptz not null
       ) on commit drop`
    )
    await this.trx.rawQuery(
      `create temporary table archive_user_map (old_id bigint primary key, new_id bigint not null)
       on commit drop`
    )
  }

  async sectionStart(start: SectionStart) {
    if (start.kind === 'tenant' || start.kind === 'users') {
      const expected = start.kind === 'tenant' ? TENANT_COLUMNS : USER_COLUMNS
      assertColumns(start, expected)
      return
    }
    if (!this.tenant) throw new ArchiveError('Archive refused: a table section precedes its users')
    if (this.seen.has(start.section)) {
      throw new ArchiveError(`Archive refused: table "${start.section}" appears twice`)
    }
    this.seen.add(start.section)
    const table = this.tables.get(start.section)
    if (!table) {
      throw new ArchiveError(
        `Archive refused: table "${start.section}" does not exist in a tenant schema at "${this.at.at(-1)}"`
      )
    }
    assertColumns(start, table.columns)
    this.inserts.set(start.section, insertSql(this.tenant.schemaName, table))
  }

  async rows(start: SectionStart, batch: ArchiveRow[]) {
    const connection = await rawConnection(this.trx)
    if (start.kind === 'tenant') {
      const [name, , status, createdAt] = batch[0]
      this.archived = { name: this.name ?? name!, status: status!, createdAt }
      return
    }
    const values = columnsOf(batch, start.columns.length)
    if (start.kind === 'users') {
      await connection.query({
        text: `insert into pg_temp.archive_users
               select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::boolean[], $7::timestamptz[], $8::timestamptz[])`,
        values,
      })
      this.users += batch.length
      return
    }
    try {
      await connection.query({ text: this.inserts.get(start.section)!, values })
    } catch (error) {
      const pg = error as { message?: string; code?: string }
      if (!pg.code) throw error
      throw new ArchiveError(
        `Archive refused: rows of "${start.section}" do not fit the schema (${pg.message} [${pg.code}]); nothing was imported`
      )
    }
  }

  async sectionEnd(start: SectionStart) {
    if (start.kind === 'users') await this.createTenant()
  }

  /**
   * After the users section: every conflict at once, then the tenant row,
   * its schema (claimed or built at the archive's version) and its users.
   */
  private async createTenant() {
    const archived = this.archived!
    const { rows: conflicts } = await this.trx.rawQuery(
      `select 'store name' as field, ?::text as value
       from public.tenants where lower(name) = lower(?)
       union all
       select 'username', a.username from pg_temp.archive_users a
       where exists (select 1 from public.users u where lower(u.username) = lower(a.username))
       union all
       select 'email', a.email from pg_temp.archive_users a
       where exists (select 1 from public.users u where lower(u.email) = lower(a.email))`,
      [archived.name, archived.name]
    )
    if (conflicts.length > 0) {
      throw new ImportConflictError(
        conflicts.map(
          (row: { field: string; value: string }) => `${row.field} "${row.value}" is already taken`
        )
      )
    }

    const tenant = await this.provisioner.insertTenant(this.trx, archived.name)
    await this.trx.rawQuery(
      `update public.tenants set status = ?, created_at = coalesce(?::timestamptz, created_at)
       where id = ?`,
      [archived.status, archived.createdAt, tenant.id]
    )
    // At the latest migration, a spare of the pool serves; an older archive
    // gets a schema built at its own version, upgraded after its rows.
    const older = this.at.length < this.migrations.length
    const latest = await tenantMigrations()
    const own = this.migrations.at(-1)?.name === latest.at(-1)?.name
    await this.provisioner.createOrClaimSchema(
      this.trx,
      tenant.id,
      older || !own ? this.migrations.slice(0, this.at.length) : undefined
    )
    const { rows: owners } = await this.trx.rawQuery(
      `with inserted as (
         insert into public.users (tenant_id, username, email, password, role, is_active, created_at, updated_at)
         select ?, username, email, password, role, is_active, created_at, updated_at
         from pg_temp.archive_users order by old_id
         returning id, username, role
       ), mapped as (
         insert into pg_temp.archive_user_map (old_id, new_id)
         select a.old_id, i.id from inserted i join pg_temp.archive_users a on a.username = i.username
       )
       select id from inserted where role = 'owner' order by id limit 1`,
      [tenant.id]
    )
    const schema = tenantSchema(tenant.id)
    for (const table of await schemaTables(this.trx, schema)) this.tables.set(table.name, table)
    this.tenant = { ...tenant, status: archived.status, ownerId: owners[0]?.id }
  }

  /**
   * Sequences past the imported ids, for every identity or serial column.
   */
  async finish() {
    const schema = quoteIdent(this.tenant!.schemaName)
    for (const table of this.tables.values()) {
      for (const column of table.columns) {
        if (!column.identity && !column.serial) continue
        const qualified = `${schema}.${quoteIdent(table.name)}`
        await this.trx.rawQuery(
          `select setval(pg_get_serial_sequence(?, ?), coalesce(max(${quoteIdent(column.name)}), 0) + 1, false)
           from ${qualified}`,
          [qualified, column.name]
        )
      }
    }
  }
}

function assertColumns(start: SectionStart, expected: ArchiveColumn[]) {
  const describe = (columns: ArchiveColumn[]) =>
    columns.map((column) => `${column.name} ${column.type}`).join(', ')
  const actual = describe(start.columns)
  const wanted = describe(expected.map(({ name, type }) => ({ name, type })))
  if (actual !== wanted) {
    throw new ArchiveError(
      `Archive refused: the columns of "${start.section}" (${actual}) are not those of this application's (${wanted})`
    )
  }
}

/**
 * The batch as one array per column (bound as text[] and cast back).
 */
function columnsOf(batch: ArchiveRow[], width: number): (string | null)[][] {
  const columns: (string | null)[][] = Array.from({ length: width }, () => [])
  for (const row of batch) {
    for (let index = 0; index < width; index++) columns[index].push(row[index])
  }
  return columns
}

/**
 * An insert of a batch of rows into a tenant table: each column bound as a
 * text array and cast to its type, user ids mapped to the new ones.
 */
function insertSql(schemaName: string, table: SchemaTable) {
  const names = table.columns.map((column) => quoteIdent(column.name)).join(', ')
  const values = table.columns
    .map((column, index) => {
      const value = `(v.c${index})::${column.baseType}`
      return isUserReference(column)
        ? `coalesce((select m.new_id from pg_temp.archive_user_map m where m.old_id = ${value}), ${value})`
        : value
    })
    .join(', ')
  const aliases = table.columns.map((_, index) => `c${index}`).join(', ')
  const arrays = table.columns.map((_, index) => `$${index + 1}::text[]`).join(', ')
  const overriding = table.columns.some((column) => column.identity)
    ? ' overriding system value'
    : ''
  return `insert into ${quoteIdent(schemaName)}.${quoteIdent(table.name)} (${names})${overriding}
    select ${values} from unnest(${arrays}) as v(${aliases})`
}
