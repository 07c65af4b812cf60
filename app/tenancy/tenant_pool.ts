import { platformDb } from '#tenancy/platform'
import type { QueryClientContract, TransactionClientContract } from '@adonisjs/lucid/types/database'
import tenantPoolConfig from '#config/tenant_pool'
import { quoteIdent, spareSchema } from '#tenancy/schema'
import { secureSpareSql } from '#tenancy/runtime_role'
import {
  applyToSql,
  runScript,
  spareSql,
  tenantMigrations,
  type CompiledMigration,
} from '#tenancy/tenant_migrations'

/**
 * The pool of ready tenant schemas.
 *
 * A spare is a schema `tenant_spare_<n>` (n: the id of its row in
 * `public.tenant_spares`) already holding every tenant table at the latest
 * tenant migration, with its own ledger, and secured as a tenant schema
 * is (privileges on its tables, row-level security, the guard policy,
 * which is bound to the schema and not to a tenant: migration 0006) except
 * that the runtime role has no USAGE on it, so no tenant can reach it.
 * Sign-up claims one inside its own transaction: the row is deleted
 * (`for update skip locked`, so two sign-ups never take the same one), the
 * schema renamed to `tenant_<tenant id>` and opened to the runtime role
 * (`tenancy.claim_spare`, one round trip).
 * All transactional: a sign-up that fails afterwards rolls them back and
 * the spare is in the pool again, unreachable as before.
 *
 * Spares are built only off the request path: by the refill job
 * (app/queue/pool_refill.ts, after each sign-up and periodically) and by
 * `tenants:pool --fill`. Builders serialize on an advisory transaction lock
 * and count before each build, so concurrent refills never overfill.
 *
 * See docs/design/tenant_pool.md.
 */

/** Key of the transaction-level advisory lock that serializes builders. */
const BUILD_LOCK = 7_262_346_501

export interface SpareStatus {
  /** the configured size (TENANT_POOL_SIZE) */
  size: number
  latest: string | null
  /** spares in all */
  total: number
  /** spares at the latest migration and secured (the ones sign-up can claim) */
  ready: number
  versions: { version: string | null; spares: number }[]
  oldest: Date | null
}

export interface PoolMigrationResult {
  migrated: number[]
  /** spares at the latest migration that were not secured (built by an older release) */
  secured: number[]
  /** spares at a version the migrations do not know: dropped (they hold no data) */
  dropped: number[]
  failed: { spareId: number; schema: string; message: string; code?: string }[]
}

export interface Progress {
  done: number
  total: number
}

export class TenantPool {
  readonly size: number

  constructor(options: { size?: number } = {}) {
    this.size = options.size ?? tenantPoolConfig.size
  }

  get enabled() {
    return this.size > 0
  }

  /**
   * Claims a ready spare for `tenantId` inside the caller's transaction:
   * deletes its row, records its version as the tenant's, renames its
   * schema to `tenant_<id>` and grants the runtime role USAGE on it. Its
   * tables were secured when it was built; the guard is bound to the
   * schema, follows it through the rename, and now matches `tenantId`
   * alone. Returns the spare's id, or null when the pool has no ready
   * spare (the caller builds the schema instead).
   *
   * One round trip: `tenancy.claim_spare` (migration 0006) runs the claim
   * and each DDL statement on its own inside the function (renaming a
   * distributed schema is supported from Citus 12).
   */
  async claim(trx: TransactionClientContract, tenantId: number): Promise<number | null> {
    const latest = await latestMigration()
    if (!latest) return null
    // Straight to the transaction's pg connection: this is the whole schema
    // part of a sign-up, and knex's query building costs as much as a round trip.
    const connection = await trxConnection(trx)
    const { rows } = await connection.query('select tenancy.claim_spare($1, $2) as id', [
      tenantId,
      latest,
    ])
    return rows[0]?.id ?? null
  }

  /**
   * Builds spares until the pool holds `size` of them (every spare counts,
   * ready or behind: `migrate` brings the others up). One transaction per
   * spare. Returns the ids built.
   */
  async fill(
    options: { size?: number; onProgress?: (progress: Progress) => void } = {}
  ): Promise<number[]> {
    const size = options.size ?? this.size
    const built: number[] = []
    for (;;) {
      const spareId = await platformDb().transaction(async (trx) => {
        await trx.rawQuery('select pg_advisory_xact_lock(?)', [BUILD_LOCK])
        const { rows } = await trx.rawQuery('select count(*)::int as n from public.tenant_spares')
        if (rows[0].n >= size) return null
        const inserted = await trx.rawQuery(
          'insert into public.tenant_spares default values returning id'
        )
        const id: number = inserted.rows[0].id
        await runScript(trx, `${await spareSql(id)};\n${secureSpareSql(id)}`)
        options.onProgress?.({ done: built.length + 1, total: built.length + size - rows[0].n })
        return id
      })
      if (spareId === null) return built
      built.push(spareId)
    }
  }

  /**
   * Drops every spare not being claimed at this moment, a few per
   * transaction. Returns how many went.
   */
  async empty(): Promise<number> {
    let dropped = 0
    for (;;) {
      const count = await platformDb().transaction(async (trx) => {
        const { rows } = await trx.rawQuery(
          `delete from public.tenant_spares
           where id in (select id from public.tenant_spares order by id limit 20
                        for update skip locked)
           returning id`
        )
        for (const row of rows) {
          await this.dropSchema(trx, row.id)
        }
        return rows.length
      })
      if (count === 0) return dropped
      dropped += count
    }
  }

  async status(): Promise<SpareStatus> {
    const latest = (await latestMigration()) ?? null
    const { rows } = await platformDb().rawQuery(
      `select migration_version as version, count(*)::int as spares,
              (count(*) filter (where secured))::int as secured, min(created_at) as oldest
       from public.tenant_spares group by migration_version order by migration_version nulls first`
    )
    const versions = rows.map((row: { version: string | null; spares: number }) => ({
      version: row.version,
      spares: row.spares,
    }))
    const oldest = rows
      .map((row: { oldest: Date }) => row.oldest)
      .sort((a: Date, b: Date) => a.getTime() - b.getTime())[0]
    return {
      size: this.size,
      latest,
      total: versions.reduce((sum: number, row: { spares: number }) => sum + row.spares, 0),
      ready: rows.find((row: { version: string | null }) => row.version === latest)?.secured ?? 0,
      versions,
      oldest: oldest ?? null,
    }
  }

  /**
   * Brings every spare to the latest tenant migration (`tenants:migrate`
   * runs this after the tenants) and secures those that are not (built
   * by a release before migration 0006, or before the runtime role
   * existed). Each spare keeps its own ledger and moves in one transaction; a spare being claimed at that moment is
   * skipped (it is a tenant's by the time it commits, and tenants:migrate
   * covers it as one). A spare at a version the migrations do not know
   * (after a rollback, or built by a newer release) holds no data: it is
   * dropped, and the refill builds a fresh one.
   */
  async migrate(
    options: { directory?: string; onProgress?: (progress: Progress) => void } = {}
  ): Promise<PoolMigrationResult> {
    const migrations = await tenantMigrations(options.directory)
    const names = migrations.map((migration) => migration.name)
    const latest = names.at(-1) ?? null
    const result: PoolMigrationResult = { migrated: [], secured: [], dropped: [], failed: [] }
    if (latest === null) return result
    const { rows } = await platformDb().rawQuery(
      `select id from public.tenant_spares
       where migration_version is distinct from ? or not secured order by id`,
      [latest]
    )
    let done = 0
    for (const { id } of rows as { id: number }[]) {
      try {
        const outcome = await platformDb().transaction((trx) =>
          this.migrateOne(trx, id, migrations)
        )
        if (outcome === 'migrated') result.migrated.push(id)
        if (outcome === 'secured') result.secured.push(id)
        if (outcome === 'dropped') result.dropped.push(id)
      } catch (error) {
        const pg = error as { message?: string; code?: string; detail?: string }
        result.failed.push({
          spareId: id,
          schema: spareSchema(id),
          message: [pg.message ?? String(error), pg.detail].filter(Boolean).join(': '),
          code: pg.code,
        })
      }
      options.onProgress?.({ done: ++done, total: rows.length })
    }
    return result
  }

  /**
   * What the refill job does: migrate the spares that are behind, then
   * build up to the configured size.
   */
  async refill(): Promise<{ migrated: number; secured: number; dropped: number; built: number }> {
    if (!this.enabled) return { migrated: 0, secured: 0, dropped: 0, built: 0 }
    const migrated = await this.migrate()
    const built = await this.fill()
    return {
      migrated: migrated.migrated.length,
      secured: migrated.secured.length,
      dropped: migrated.dropped.length,
      built: built.length,
    }
  }

  private async migrateOne(
    trx: TransactionClientContract,
    spareId: number,
    migrations: CompiledMigration[]
  ): Promise<'migrated' | 'secured' | 'dropped' | 'skipped'> {
    const { rows } = await trx.rawQuery(
      'select migration_version, secured from public.tenant_spares where id = ? for update skip locked',
      [spareId]
    )
    if (!rows[0]) return 'skipped'
    const version: string | null = rows[0].migration_version
    const names = migrations.map((migration) => migration.name)
    if (version === names.at(-1)) {
      if (rows[0].secured) return 'skipped'
      const secured = await trx.rawQuery(`${secureSpareSql(spareId)} returning secured`)
      return secured.rows[0]?.secured ? 'secured' : 'skipped'
    }
    const position = version === null ? -1 : names.indexOf(version)
    if (version !== null && position === -1) {
      await trx.rawQuery('delete from public.tenant_spares where id = ?', [spareId])
      await this.dropSchema(trx, spareId)
      return 'dropped'
    }
    await runScript(
      trx,
      `${applyToSql({ spareId }, migrations.slice(position + 1), 'next')};\n${secureSpareSql(spareId)}`
    )
    return 'migrated'
  }

  private async dropSchema(client: QueryClientContract, spareId: number) {
    await client.rawQuery(`drop schema if exists ${quoteIdent(spareSchema(spareId))} cascade`)
  }
}

async function latestMigration(): Promise<string | undefined> {
  const migrations = await tenantMigrations()
  return migrations.at(-1)?.name
}

interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>
}

/**
 * The pg connection a transaction runs on.
 */
async function trxConnection(trx: TransactionClientContract): Promise<PgConnection> {
  return (await trx.getWriteClient().client.acquireConnection()) as PgConnection
}
