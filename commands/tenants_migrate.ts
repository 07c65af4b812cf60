import { flags } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONCURRENCY,
  TenantMigrator,
  type RunResult,
} from '#tenancy/tenant_migrator'
import { ensureRuntimeRole, secureAllTenants, secureUnsecuredTenants } from '#tenancy/runtime_role'
import { platformDb } from '#tenancy/platform'
import { TenantPool } from '#tenancy/tenant_pool'

/**
 * Brings every tenant schema to the latest tenant migration. Resumable:
 * tenants that fail keep their version and are retried by the next run.
 *
 * Runs as the owner role. Before migrating, it creates the runtime role
 * when missing and keeps its grants right (platform tables, and the
 * tables and guard policies of every tenant schema it cannot use yet;
 * `--secure-all` re-checks every schema): `npm run migrate` runs it after
 * the platform migrations.
 *
 * On plain PostgreSQL several tenants share a transaction, each in a
 * savepoint of its own (see TenantMigrator): `--batch-size 1` gives each
 * tenant its own transaction, as on Citus.
 */
export default class TenantsMigrate extends TenantCommand {
  static commandName = 'tenants:migrate'
  static description = 'Apply pending tenant migrations to every tenant schema'

  @flags.number({
    description: `Tenants migrated at once (default ${DEFAULT_CONCURRENCY}, at most the pool size)`,
  })
  declare concurrency?: number

  @flags.number({
    description: `Tenants per transaction, each in its own savepoint (default ${DEFAULT_BATCH_SIZE})`,
  })
  declare batchSize?: number

  @flags.boolean({
    description: 'Re-check the grants and guard policies of every tenant schema, not only new ones',
  })
  declare secureAll?: boolean

  @flags.boolean({ description: 'Print the plan and its SQL without applying anything' })
  declare dryRun?: boolean

  @flags.string({ description: 'Migrate only this tenant (id)' })
  declare tenant?: string

  async run() {
    const tenantIds = this.tenant === undefined ? undefined : [this.parseTenant(this.tenant)]
    if (!this.dryRun) {
      await ensureRuntimeRole(platformDb())
      if (this.secureAll) await secureAllTenants(platformDb())
      else if (tenantIds === undefined) await secureUnsecuredTenants(platformDb())
    }
    const migrator = new TenantMigrator({
      concurrency: this.concurrency,
      batchSize: this.batchSize,
    })
    const latest = await migrator.latest()
    const progress = this.progress('migrated')

    const started = performance.now()
    const result = await migrator.migrate({
      tenantIds,
      dryRun: this.dryRun,
      onProgress: progress.onProgress,
    })
    progress.finish()

    if (result.dryRun) {
      this.printPlan(migrator, result)
    } else if (result.plans.length === 0 && result.failed.length === 0) {
      this.logger.info(`Nothing to migrate: every tenant is at ${latest ?? '(no migrations)'}`)
    } else if (result.succeeded.length > 0) {
      this.logger.success(
        `Migrated ${result.succeeded.length} tenant(s) to ${latest} in ${seconds(started)} ` +
          `(concurrency ${result.concurrency}, up to ${result.batchSize} per transaction)`
      )
    }

    this.reportFailures(result.failed)
    if (result.failed.length > 0) {
      this.logger.error(
        `${result.failed.length} tenant(s) failed and kept their version; ` +
          'fix the cause and run tenants:migrate again to finish them'
      )
      this.exitCode = 1
    }
    if (tenantIds === undefined) await this.migrateSpares()
  }

  /**
   * The spare schemas of the pool follow the tenants, each with its own
   * ledger (see TenantPool.migrate).
   */
  private async migrateSpares() {
    const pool = new TenantPool()
    if (this.dryRun) {
      const status = await pool.status()
      const behind = status.total - status.ready
      if (behind > 0) {
        this.logger.info(`[dry run] ${behind} spare schema(s) of the pool would be migrated`)
      }
      return
    }
    const spares = await pool.migrate()
    if (spares.migrated.length > 0) {
      this.logger.success(`Migrated ${spares.migrated.length} spare schema(s) of the pool`)
    }
    if (spares.dropped.length > 0) {
      this.logger.info(
        `Dropped ${spares.dropped.length} spare schema(s) at an unknown version (the refill builds new ones)`
      )
    }
    for (const failure of spares.failed) {
      const code = failure.code ? ` [${failure.code}]` : ''
      this.logger.error(`spare ${failure.spareId} (${failure.schema}): ${failure.message}${code}`)
    }
    if (spares.failed.length > 0) this.exitCode = 1
  }

  private printPlan(migrator: TenantMigrator, result: RunResult) {
    if (result.plans.length === 0) {
      this.logger.info(`[dry run] Nothing to migrate: every tenant is at ${result.latest}`)
      return
    }
    this.logger.info(
      `[dry run] ${result.plans.length} tenant(s) would be migrated to ${result.latest}:`
    )
    const pending = new Map<string, string>()
    for (const plan of result.plans) {
      const names = plan.migrations.map((migration) => migration.name)
      this.logger.log(
        `  tenant ${plan.tenantId} (${plan.schema}): ${plan.version ?? '(none)'} -> ${plan.target}` +
          ` [${names.join(', ')}]`
      )
      for (const migration of plan.migrations) pending.set(migration.name, migration.up)
    }
    if (result.plans.length === 1) {
      this.logger.log(`\n-- SQL sent for tenant ${result.plans[0].tenantId} (one round trip):`)
      this.logger.log(`${migrator.sql(result.plans[0], 'up')};`)
      return
    }
    for (const [name, sql] of pending) {
      this.logger.log(`\n-- ${name} (run in each tenant's schema with its ledger row):`)
      this.logger.log(`${sql};`)
    }
  }
}

function seconds(since: number) {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`
}
