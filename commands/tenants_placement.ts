import { flags } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import { TenantPlacement } from '#tenancy/tenant_placement'

/**
 * Which node holds each tenant's schema, with its size (Citus: from
 * citus_shards and pg_dist_schema; plain PostgreSQL: the one server).
 */
export default class TenantsPlacement extends TenantCommand {
  static commandName = 'tenants:placement'
  static description = 'Show which node holds each tenant (Citus), with table count and size'

  @flags.boolean({ description: 'Print JSON instead of a table' })
  declare json?: boolean

  async run() {
    const report = await new TenantPlacement().report()
    if (this.json) {
      this.logger.log(JSON.stringify(report))
      return
    }
    this.logger.info(
      report.citus
        ? `Citus ${report.citus}: tenant schemas are distributed schemas`
        : 'Plain PostgreSQL (no Citus): every tenant lives on this server'
    )
    if (report.placements.length === 0) {
      this.logger.info('No tenants')
      return
    }
    const table = this.ui.table().head(['ID', 'Name', 'Schema', 'Node', 'Tables', 'Size'])
    for (const placement of report.placements) {
      table.row([
        String(placement.tenantId),
        placement.name,
        placement.schema,
        placement.node ?? (report.citus ? '(not distributed: coordinator)' : '(this server)'),
        String(placement.tables),
        formatBytes(placement.bytes),
      ])
    }
    table.render()
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
