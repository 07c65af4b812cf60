import { args } from '@adonisjs/core/ace'
import { TenantCommand } from './_tenant_command.js'
import { TenantLifecycle } from '#tenancy/tenant_lifecycle'

/**
 * Suspends a tenant: its data stays, its requests get 403 E_TENANT_SUSPENDED.
 */
export default class TenantsSuspend extends TenantCommand {
  static commandName = 'tenants:suspend'
  static description = 'Suspend a tenant (its requests are refused with 403)'

  @args.string({ description: 'Tenant id' })
  declare id: string

  async run() {
    const { tenant, changed } = await new TenantLifecycle().suspend(this.parseTenant(this.id))
    if (changed) {
      this.logger.success(`Tenant ${tenant.id} (${tenant.slug}) suspended`)
    } else {
      this.logger.info(`Tenant ${tenant.id} (${tenant.slug}) is already suspended`)
    }
  }
}
