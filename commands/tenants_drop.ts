import { args, flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { TenantLifecycle } from '#tenancy/tenant_lifecycle'

/**
 * Deletes a tenant for good: its schema (every tenant table) and its
 * platform rows (tenant, users, login sessions), in one transaction.
 */
export default class TenantsDrop extends TenantCommand {
  static commandName = 'tenants:drop'
  static description = 'Delete a tenant, its schema and its users (irreversible; needs --force)'

  @args.string({ description: 'Tenant id' })
  declare id: string

  @flags.boolean({ description: 'Confirm the deletion' })
  declare force?: boolean

  async run() {
    const lifecycle = new TenantLifecycle()
    const tenant = await lifecycle.find(this.parseTenant(this.id))
    if (!this.force) {
      throw new CommandError(
        `Refusing to drop tenant ${tenant.id} (${tenant.slug}): this deletes its schema ` +
          `${tenant.schemaName} and all its users for good. Run again with --force`
      )
    }
    await lifecycle.drop(tenant.id)
    this.logger.success(
      `Dropped tenant ${tenant.id} (${tenant.slug}): schema ${tenant.schemaName} and its users`
    )
  }
}
