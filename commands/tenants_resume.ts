import { args } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import { TenantLifecycle } from '#tenancy/tenant_lifecycle'

export default class TenantsResume extends TenantCommand {
  static commandName = 'tenants:resume'
  static description = 'Resume a suspended tenant'

  @args.string({ description: 'Tenant id' })
  declare id: string

  async run() {
    const { tenant, changed } = await new TenantLifecycle().resume(this.parseTenant(this.id))
    if (changed) {
      this.logger.success(`Tenant ${tenant.id} (${tenant.slug}) resumed`)
    } else {
      this.logger.info(`Tenant ${tenant.id} (${tenant.slug}) is already active`)
    }
  }
}
