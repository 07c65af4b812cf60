import { args, flags } from '@adonisjs/core/ace'
import string from '@adonisjs/core/helpers/string'
import { hashPassword } from '#auth/passwords'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'
import { createTenantValidator } from '#validators/tenant'
import { mapDatabaseError } from '#exceptions/database_errors'

/**
 * Onboards a tenant from the command line: tenant row, schema and owner in
 * one transaction (the same provisioner as sign-up).
 */
export default class TenantsCreate extends TenantCommand {
  static commandName = 'tenants:create'
  static description = 'Create a tenant with its schema and its owner'

  @args.string({ description: 'Store name' })
  declare name: string

  @flags.string({ description: "Owner's username", required: true })
  declare owner: string

  @flags.string({ description: "Owner's email", required: true })
  declare email: string

  @flags.string({
    description: "Owner's password (prompted on a terminal; generated when left empty)",
  })
  declare password?: string

  async run() {
    let password = this.password
    if (password === undefined && process.stdin.isTTY && this.interactive()) {
      password = await this.prompt.secure('Owner password (leave empty to generate one)')
    }
    const generated = !password
    if (generated) password = string.random(20)

    const input = await createTenantValidator.validate({
      name: this.name,
      username: this.owner,
      email: this.email,
      password,
    })

    const result = await new TenantProvisioner()
      .provision({
        name: input.name,
        owner: {
          username: input.username,
          email: input.email,
          passwordHash: await hashPassword(input.password),
        },
      })
      .catch((error) => {
        const mapped = mapDatabaseError(error)
        if (mapped?.status === 409) throw new CommandError(mapped.message)
        throw error
      })

    const { tenant, owner } = result
    this.logger.success(
      `Created tenant ${tenant.id} "${tenant.name}" (slug ${tenant.slug}, schema ${tenant.schemaName})` +
        ` with owner ${owner.username} (user ${owner.id})`
    )
    if (generated) {
      this.logger.log(`Owner password (shown only once): ${input.password}`)
    }
  }
}
