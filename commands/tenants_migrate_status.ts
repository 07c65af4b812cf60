import { flags } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import { TenantMigrator } from '#tenancy/tenant_migrator'

/**
 * Where the tenants stand: tenants per migration version, and the tenants
 * behind the latest one.
 */
export default class TenantsMigrateStatus extends TenantCommand {
  static commandName = 'tenants:migrate:status'
  static description = 'Show tenants per migration version and the tenants that are behind'

  @flags.number({ description: 'List at most this many behind tenants', default: 100 })
  declare limit: number

  async run() {
    const status = await new TenantMigrator().status()
    this.logger.info(`Latest tenant migration: ${status.latest ?? '(none)'}`)

    const table = this.ui.table().head(['Version', 'Tenants', 'State'])
    for (const row of status.versions) {
      const state =
        row.version === status.latest ? 'latest' : row.known ? 'behind' : 'unknown version'
      table.row([row.version ?? '(none)', String(row.tenants), state])
    }
    table.render()

    if (status.behind.length === 0) {
      this.logger.success(`All ${status.total} tenant(s) are at the latest version`)
      return
    }
    this.logger.warning(`${status.behind.length} of ${status.total} tenant(s) are behind:`)
    for (const tenant of status.behind.slice(0, this.limit)) {
      this.logger.log(
        `  tenant ${tenant.tenantId} (${tenant.schema}): ${tenant.version ?? '(none)'}`
      )
    }
    if (status.behind.length > this.limit) {
      this.logger.log(`  … and ${status.behind.length - this.limit} more`)
    }
  }
}
