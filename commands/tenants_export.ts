import { resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { args, flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { TenantExporter } from '#tenancy/tenant_exporter'

/**
 * Writes one tenant to an archive (docs/design/tenant_archive.md).
 */
export default class TenantsExport extends TenantCommand {
  static commandName = 'tenants:export'
  static description = 'Write a tenant (row, users, every table of its schema) to an archive file'

  @args.string({ description: 'Tenant id' })
  declare tenant: string

  @flags.string({
    description: 'Archive file to write (gzip NDJSON, e.g. store.tenant.gz)',
    required: true,
  })
  declare out: string

  @flags.boolean({ description: 'Replace the file when it exists' })
  declare force?: boolean

  async run() {
    const tenantId = this.parseTenant(this.tenant)
    const file = resolve(this.out)
    if (existsSync(file) && !this.force) {
      throw new CommandError(`${file} exists; pass --force to replace it`)
    }
    const progress = this.progress('exported', 'rows')
    const started = performance.now()
    const result = await new TenantExporter().export(tenantId, file, {
      onProgress: ({ done, total }) => progress.onProgress({ done, total, failed: 0 }),
    })
    progress.finish()
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const tables = result.header.sections.filter((section) => section.kind === 'table').length
    this.logger.success(
      `Exported tenant ${tenantId} to ${file}: ${result.rows} rows of ${tables} tables, ` +
        `${result.header.sections[1].rows} users, migration ${result.header.tenant_migration ?? '(none)'}, ` +
        `${result.bytes} bytes in ${seconds} s`
    )
  }
}
