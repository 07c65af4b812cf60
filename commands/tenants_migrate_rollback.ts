import { flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, TenantMigrator } from '#tenancy/tenant_migrator'

/**
 * Reverts each tenant's newest tenant migration (or --step of them).
 */
export default class TenantsMigrateRollback extends TenantCommand {
  static commandName = 'tenants:migrate:rollback'
  static description = "Revert each tenant's newest tenant migration (or --step of them)"

  @flags.string({ description: 'Roll back only this tenant (id)' })
  declare tenant?: string

  @flags.number({ description: 'How many migrations to revert per tenant', default: 1 })
  declare step: number

  @flags.number({
    description: `Tenants rolled back at once (default ${DEFAULT_CONCURRENCY}, at most the pool size)`,
  })
  declare concurrency?: number

  @flags.number({
    description: `Tenants per transaction, each in its own savepoint (default ${DEFAULT_BATCH_SIZE})`,
  })
  declare batchSize?: number

  @flags.boolean({ description: 'Print the plan without reverting anything' })
  declare dryRun?: boolean

  @flags.boolean({ description: 'Explicitly roll back in production' })
  declare force?: boolean

  async run() {
    if (this.app.inProduction && !this.force && !this.dryRun) {
      throw new CommandError(
        'Refusing to roll back tenant migrations in production without --force'
      )
    }
    const tenantIds = this.tenant === undefined ? undefined : [this.parseTenant(this.tenant)]
    const migrator = new TenantMigrator({
      concurrency: this.concurrency,
      batchSize: this.batchSize,
    })
    const progress = this.progress('rolled back')
    const result = await migrator.rollback({
      tenantIds,
      step: this.step,
      dryRun: this.dryRun,
      onProgress: progress.onProgress,
    })
    progress.finish()

    if (result.plans.length === 0 && result.failed.length === 0) {
      this.logger.info('Nothing to roll back')
    } else if (result.dryRun) {
      this.logger.info(`[dry run] ${result.plans.length} tenant(s) would be rolled back:`)
      for (const plan of result.plans) {
        const names = plan.migrations.map((migration) => migration.name).reverse()
        this.logger.log(
          `  tenant ${plan.tenantId} (${plan.schema}): ${plan.version} -> ${plan.target ?? '(none)'}` +
            ` [revert ${names.join(', ')}]`
        )
      }
    } else if (result.succeeded.length > 0) {
      this.logger.success(`Rolled back ${result.succeeded.length} tenant(s)`)
    }

    this.reportFailures(result.failed)
    if (result.failed.length > 0) {
      this.logger.error(`${result.failed.length} tenant(s) failed and kept their version`)
      this.exitCode = 1
    }
  }
}
