import { resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { args, flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { TenantImporter } from '#tenancy/tenant_importer'

/**
 * Recreates an archived tenant as a new tenant, in one transaction.
 */
export default class TenantsImport extends TenantCommand {
  static commandName = 'tenants:import'
  static description = 'Recreate a tenant from an archive as a new tenant (all or nothing)'

  @args.string({ description: 'Archive file (written by tenants:export)' })
  declare file: string

  @flags.string({ description: "Store name of the new tenant (default: the archive's)" })
  declare name?: string

  async run() {
    const file = resolve(this.file)
    if (!existsSync(file)) throw new CommandError(`${file} does not exist`)
    const name = this.name?.trim()
    if (name !== undefined && (name.length === 0 || name.length > 200)) {
      throw new CommandError('The store name must have 1 to 200 characters')
    }
    const progress = this.progress('imported', 'rows')
    const started = performance.now()
    const result = await new TenantImporter().import(file, {
      name,
      onProgress: ({ done, total }) => progress.onProgress({ done, total, failed: 0 }),
    })
    progress.finish()
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const upgraded = result.upgraded.length
      ? `, upgraded from ${result.from ?? '(none)'} by ${result.upgraded.join(', ')}`
      : ''
    const { tenant } = result
    this.logger.success(
      `Imported tenant ${tenant.id} "${tenant.name}" (slug ${tenant.slug}, schema ${tenant.schemaName}): ` +
        `${result.users} users, ${result.rows} rows${upgraded} in ${seconds} s`
    )
  }
}
