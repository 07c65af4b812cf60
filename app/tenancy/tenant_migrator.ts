import db from '@adonisjs/lucid/services/db'
import { PLATFORM_CONNECTION } from '#config/database'
import { TenantNotFoundException } from '#exceptions/tenancy'
import { tenantSchema } from '#tenancy/schema'
import { splitStatements } from '#tenancy/sql_script'
import {
  applySql,
  onCitus,
  revertSql,
  runScript,
  tenantMigrations,
  tenantMigrationsPath,
  type CompiledMigration,
} from '#tenancy/tenant_migrations'

export const DEFAULT_CONCURRENCY = 8

/**
 * Tenants per transaction on plain PostgreSQL (see `runBatch`): enough to
 * spread one commit and one round trip over many schemas, few enough that
 * a batch holds a few hundred locks and a failure re-sends little.
 */
export const DEFAULT_BATCH_SIZE = 25

/**
 * At most this many migration statements per batch: each holds its locks
 * (an ACCESS EXCLUSIVE on an altered table, several for a new one) until
 * the batch commits, and the server's lock table is shared. A migration of
 * many statements gets smaller batches, down to one tenant.
 */
export const BATCH_STATEMENTS = 100

/**
 * A tenant and the version its platform mirror records.
 */
export interface TenantVersion {
  tenantId: number
  schema: string
  version: string | null
}

/**
 * What a run does to one tenant: the migrations it applies (up) or
 * reverts (down), and the version the tenant ends at.
 */
export interface TenantPlan extends TenantVersion {
  migrations: CompiledMigration[]
  target: string | null
}

export interface TenantFailure {
  tenantId: number
  schema: string
  message: string
  code?: string
}

export interface MigrationProgress {
  done: number
  total: number
  failed: number
}

export interface RunOptions {
  /** Only these tenants (an unknown id throws TenantNotFoundException). */
  tenantIds?: number[]
  /** Plan only: nothing is sent to the database but the planning query. */
  dryRun?: boolean
  onProgress?: (progress: MigrationProgress) => void
}

export interface RollbackOptions extends RunOptions {
  /** How many of each tenant's newest migrations to revert (default 1). */
  step?: number
}

export interface RunResult {
  direction: 'up' | 'down'
  dryRun: boolean
  latest: string | null
  concurrency: number
  /** Tenants per transaction at most (1 on Citus). */
  batchSize: number
  plans: TenantPlan[]
  succeeded: number[]
  failed: TenantFailure[]
}

export interface MigrationStatus {
  latest: string | null
  total: number
  versions: { version: string | null; tenants: number; known: boolean }[]
  behind: TenantVersion[]
}

/**
 * Applies and reverts tenant migrations across every tenant schema.
 *
 * The migrations are compiled once (app/tenancy/tenant_migrations.ts). The
 * platform mirror `public.tenants.migration_version` tells, in one query,
 * which tenants are behind and where each one stands; a tenant's pending
 * migrations follow from its mirror version. Each tenant is then one
 * transaction carrying the schema changes, the schema's own ledger rows
 * (their primary key refuses a double application) and the mirror update,
 * sent by `runScript`: one multi-statement simple query (one round trip)
 * on plain PostgreSQL; on Citus each statement it forwards verbatim to its
 * workers (index statements, most ALTER TABLE forms) on its own, the rest
 * still joined. A tenant either moves completely or not at all.
 *
 * Tenants run with bounded parallelism on the shared pool; one tenant's
 * failure is recorded and the others carry on. A failed tenant keeps its
 * mirror version, so running again finishes the rest (resumable).
 */
export class TenantMigrator {
  readonly directory: string
  readonly concurrency: number
  readonly batchSize: number
  private connectionName: string

  constructor(
    options: {
      /** Directory of tenant migrations (default: database/tenant_migrations). */
      directory?: string
      /** Tenants migrated at once; at most the pool size (default 8). */
      concurrency?: number
      /** Lucid connection; default: the owner role's (platform). */
      connection?: string
      /** Tenants per transaction on plain PostgreSQL (default 25; 1: one each). */
      batchSize?: number
    } = {}
  ) {
    this.directory = options.directory ?? tenantMigrationsPath()
    this.connectionName = options.connection ?? PLATFORM_CONNECTION
    this.concurrency = boundedConcurrency(options.concurrency, this.poolSize())
    this.batchSize = positive('batch size', options.batchSize) ?? DEFAULT_BATCH_SIZE
  }

  /**
   * The compiled migrations, oldest first.
   */
  migrations(): Promise<CompiledMigration[]> {
    return tenantMigrations(this.directory)
  }

  async latest(): Promise<string | null> {
    const migrations = await this.migrations()
    return migrations.at(-1)?.name ?? null
  }

  /**
   * Tenants per mirror version, and every tenant that is behind.
   */
  async status(): Promise<MigrationStatus> {
    const migrations = await this.migrations()
    const names = migrations.map((migration) => migration.name)
    const latest = names.at(-1) ?? null
    const { rows } = await this.client().rawQuery(
      `select migration_version as version, count(*)::int as tenants
       from public.tenants group by migration_version order by migration_version nulls first`
    )
    const versions = rows.map((row: { version: string | null; tenants: number }) => ({
      version: row.version,
      tenants: row.tenants,
      known: row.version === null || names.includes(row.version),
    }))
    return {
      latest,
      total: versions.reduce((sum: number, row: { tenants: number }) => sum + row.tenants, 0),
      versions,
      behind: await this.behind(latest),
    }
  }

  /**
   * Brings every tenant (or the given ones) to the latest migration.
   */
  async migrate(options: RunOptions = {}): Promise<RunResult> {
    const migrations = await this.migrations()
    const names = migrations.map((migration) => migration.name)
    const latest = names.at(-1) ?? null
    const tenants = options.tenantIds
      ? await this.find(options.tenantIds, (tenant) => tenant.version !== latest)
      : await this.behind(latest)

    const plans: TenantPlan[] = []
    const failed: TenantFailure[] = []
    for (const tenant of tenants) {
      const position = tenant.version === null ? -1 : names.indexOf(tenant.version)
      if (position === -1 && tenant.version !== null) {
        failed.push(unknownVersion(tenant))
        continue
      }
      plans.push({ ...tenant, migrations: migrations.slice(position + 1), target: latest })
    }

    return this.run('up', latest, plans, failed, options, (plan) =>
      applySql(plan.tenantId, plan.migrations, 'next')
    )
  }

  /**
   * Reverts the newest migration (or `step` of them) of every tenant (or
   * the given ones).
   */
  async rollback(options: RollbackOptions = {}): Promise<RunResult> {
    const step = options.step ?? 1
    if (!Number.isSafeInteger(step) || step < 1) {
      throw new RangeError(`The step must be a positive integer, got ${step}`)
    }
    const migrations = await this.migrations()
    const names = migrations.map((migration) => migration.name)
    const tenants = options.tenantIds
      ? await this.find(options.tenantIds, (tenant) => tenant.version !== null)
      : await this.migrated()

    const plans: TenantPlan[] = []
    const failed: TenantFailure[] = []
    for (const tenant of tenants) {
      const position = names.indexOf(tenant.version!)
      if (position === -1) {
        failed.push(unknownVersion(tenant))
        continue
      }
      const from = Math.max(0, position + 1 - step)
      plans.push({
        ...tenant,
        migrations: migrations.slice(from, position + 1),
        target: from > 0 ? names[from - 1] : null,
      })
    }

    return this.run('down', names.at(-1) ?? null, plans, failed, options, (plan) =>
      revertSql(plan.tenantId, plan.migrations, plan.target ?? undefined)
    )
  }

  /**
   * The exact SQL a plan runs (in one transaction; see `runScript`).
   */
  sql(plan: TenantPlan, direction: 'up' | 'down'): string {
    return direction === 'up'
      ? applySql(plan.tenantId, plan.migrations, 'next')
      : revertSql(plan.tenantId, plan.migrations, plan.target ?? undefined)
  }

  private async run(
    direction: 'up' | 'down',
    latest: string | null,
    plans: TenantPlan[],
    failed: TenantFailure[],
    options: RunOptions,
    sqlFor: (plan: TenantPlan) => string
  ): Promise<RunResult> {
    const result: RunResult = {
      direction,
      dryRun: !!options.dryRun,
      latest,
      concurrency: this.concurrency,
      batchSize: this.batchSize,
      plans,
      succeeded: [],
      failed,
    }
    if (options.dryRun || plans.length === 0) return result

    const total = plans.length
    let done = 0
    const finished = (outcomes: Outcome[]) => {
      for (const outcome of outcomes) {
        if (outcome.error === undefined) result.succeeded.push(outcome.plan.tenantId)
        else failed.push(failure(outcome.plan, outcome.error))
        done++
        options.onProgress?.({ done, total, failed: failed.length })
      }
    }
    // On Citus a script is split around the statements it forwards verbatim
    // (app/tenancy/sql_script.ts): there each tenant keeps a transaction of
    // its own.
    if (await onCitus(this.client())) result.batchSize = 1
    const batches = batchesOf(plans, result.batchSize, (plan) => statementCount(plan, direction))
    await eachLimit(batches, this.concurrency, async (batch) => {
      finished(
        batch.length === 1
          ? [await this.runOne(batch[0], sqlFor)]
          : await this.runBatch(batch, sqlFor)
      )
    })
    result.succeeded.sort((a, b) => a - b)
    failed.sort((a, b) => a.tenantId - b.tenantId)
    return result
  }

  /**
   * One tenant, one transaction (`runScript`).
   */
  private async runOne(plan: TenantPlan, sqlFor: (plan: TenantPlan) => string): Promise<Outcome> {
    try {
      await runScript(this.client(), sqlFor(plan))
      return { plan }
    } catch (error) {
      return { plan, error }
    }
  }

  /**
   * Several tenants in one transaction, each inside a savepoint of its own
   * that holds its whole script (changes, ledger rows, mirror, grants): the
   * batch is one multi-statement simple query, so one round trip and one
   * commit for all of them.
   *
   * When a statement fails, PostgreSQL skips the rest of the query. The
   * transaction rolls back to the failing tenant's savepoint (undoing that
   * tenant only), reads the batch's mirror versions to tell which tenants
   * already reached their target (the failing one is the first that did
   * not), records the failure, and sends the tenants after it again. A
   * failed tenant is untouched; the others commit. Should anything else
   * go wrong (the savepoint machinery, the commit), the transaction is
   * rolled back and each tenant of the batch runs alone.
   */
  private async runBatch(
    plans: TenantPlan[],
    sqlFor: (plan: TenantPlan) => string
  ): Promise<Outcome[]> {
    const scripts = new Map(plans.map((plan) => [plan, sqlFor(plan)]))
    const outcomes: Outcome[] = []
    const knex = this.client().getWriteClient().client
    const connection = await knex.acquireConnection()
    let fallback = false
    try {
      let pending = plans
      let prefix = 'begin'
      for (;;) {
        const body = pending.map(
          (plan) =>
            `savepoint tenant_script;\n${scripts.get(plan)};\nrelease savepoint tenant_script`
        )
        try {
          // The commit joins the query: after a failure PostgreSQL skips it.
          await connection.query([prefix, ...body, 'commit'].join(';\n'))
          outcomes.push(...pending.map((plan) => ({ plan })))
          break
        } catch (error) {
          // Outside a transaction (the BEGIN, the COMMIT or the connection
          // failed), this throws too, and the batch runs tenant by tenant.
          await connection.query('rollback to savepoint tenant_script')
          const { rows } = await connection.query(
            'select id, migration_version from public.tenants where id = any($1::bigint[])',
            [pending.map((plan) => plan.tenantId)]
          )
          const mirror = new Map<number, string | null>(
            rows.map((row: { id: string | number; migration_version: string | null }) => [
              Number(row.id),
              row.migration_version,
            ])
          )
          const index = pending.findIndex((plan) => mirror.get(plan.tenantId) !== plan.target)
          if (index === -1) throw error
          outcomes.push(...pending.slice(0, index).map((plan) => ({ plan })))
          outcomes.push({ plan: pending[index], error })
          pending = pending.slice(index + 1)
          prefix = 'release savepoint tenant_script'
        }
      }
    } catch {
      await connection.query('rollback').catch(() => {})
      fallback = true
    } finally {
      await knex.releaseConnection(connection)
    }
    if (!fallback) return outcomes
    const alone: Outcome[] = []
    for (const plan of plans) alone.push(await this.runOne(plan, sqlFor))
    return alone
  }

  /**
   * The one query that tells which tenants are behind.
   */
  private async behind(latest: string | null): Promise<TenantVersion[]> {
    if (latest === null) return []
    const { rows } = await this.client().rawQuery(
      `select id, migration_version from public.tenants
       where migration_version is distinct from ? order by id`,
      [latest]
    )
    return rows.map(toVersion)
  }

  private async migrated(): Promise<TenantVersion[]> {
    const { rows } = await this.client().rawQuery(
      `select id, migration_version from public.tenants
       where migration_version is not null order by id`
    )
    return rows.map(toVersion)
  }

  /**
   * The given tenants that pass `filter`; throws for an unknown id.
   */
  private async find(
    tenantIds: number[],
    filter: (tenant: TenantVersion) => boolean
  ): Promise<TenantVersion[]> {
    const { rows } = await this.client().rawQuery(
      `select id, migration_version from public.tenants where id = any(?) order by id`,
      [tenantIds]
    )
    const found = new Set(rows.map((row: { id: number }) => row.id))
    const missing = tenantIds.find((id) => !found.has(id))
    if (missing !== undefined) throw new TenantNotFoundException(missing)
    return rows.map(toVersion).filter(filter)
  }

  private client() {
    return db.connection(this.connectionName)
  }

  private poolSize(): number {
    const max = db.getRawConnection(this.connectionName)?.config.pool?.max
    return typeof max === 'number' && max > 0 ? max : DEFAULT_CONCURRENCY
  }
}

/**
 * The requested concurrency, or the default, never above the pool size.
 */
function boundedConcurrency(requested: number | undefined, poolSize: number): number {
  if (requested !== undefined && (!Number.isSafeInteger(requested) || requested < 1)) {
    throw new RangeError(`The concurrency must be a positive integer, got ${requested}`)
  }
  return Math.min(requested ?? DEFAULT_CONCURRENCY, poolSize)
}

/**
 * A positive integer option, or undefined when not given.
 */
function positive(what: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new RangeError(`The ${what} must be a positive integer, got ${value}`)
  }
  return value
}

const statementCounts = new WeakMap<CompiledMigration, { up: number; down: number }>()

/**
 * The statements of a plan's migrations in that direction.
 */
function statementCount(plan: TenantPlan, direction: 'up' | 'down'): number {
  let total = 0
  for (const migration of plan.migrations) {
    let counts = statementCounts.get(migration)
    if (!counts) {
      counts = {
        up: splitStatements(migration.up).length,
        down: splitStatements(migration.down).length,
      }
      statementCounts.set(migration, counts)
    }
    total += counts[direction]
  }
  return total
}

/**
 * Consecutive plans, at most `size` of them and `BATCH_STATEMENTS`
 * statements per batch (a plan heavier than that alone).
 */
function batchesOf(
  plans: TenantPlan[],
  size: number,
  weight: (plan: TenantPlan) => number
): TenantPlan[][] {
  const batches: TenantPlan[][] = []
  let current: TenantPlan[] = []
  let load = 0
  for (const plan of plans) {
    const heavy = weight(plan)
    if (current.length > 0 && (current.length >= size || load + heavy > BATCH_STATEMENTS)) {
      batches.push(current)
      current = []
      load = 0
    }
    current.push(plan)
    load += heavy
  }
  if (current.length > 0) batches.push(current)
  return batches
}

interface Outcome {
  plan: TenantPlan
  error?: unknown
}

function toVersion(row: { id: number; migration_version: string | null }): TenantVersion {
  return { tenantId: row.id, schema: tenantSchema(row.id), version: row.migration_version }
}

function unknownVersion(tenant: TenantVersion): TenantFailure {
  return {
    tenantId: tenant.tenantId,
    schema: tenant.schema,
    message: `Unknown migration version "${tenant.version}" (not among the tenant migrations)`,
  }
}

function failure(plan: TenantPlan, error: unknown): TenantFailure {
  const pg = error as { message?: string; code?: string; detail?: string }
  const message = [pg.message ?? String(error), pg.detail].filter(Boolean).join(': ')
  return { tenantId: plan.tenantId, schema: plan.schema, message, code: pg.code }
}

/**
 * Runs `fn` over `items` with at most `limit` at a time.
 */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      await fn(items[next++])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
