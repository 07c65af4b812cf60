import { flags } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import { TenantLifecycle } from '#tenancy/tenant_lifecycle'

export default class TenantsList extends TenantCommand {
  static commandName = 'tenants:list'
  static description = 'List the tenants with their status, schema and migration version'

  @flags.boolean({ description: 'Print the tenants as a JSON array (for scripts)' })
  declare json?: boolean

  async run() {
    const tenants = await new TenantLifecycle().list()
    if (this.json) {
      this.logger.log(JSON.stringify(tenants))
      return
    }
    if (tenants.length === 0) {
      this.logger.info('No tenants')
      return
    }
    const table = this.ui.table().head(['ID', 'Slug', 'Status', 'Schema', 'Migration version'])
    for (const tenant of tenants) {
      table.row([
        String(tenant.id),
        tenant.slug,
        tenant.status,
        tenant.schemaName,
        tenant.migrationVersion ?? '(none)',
      ])
    }
    table.render()
  }
}
