import { flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import { TenantPool } from '#tenancy/tenant_pool'

/**
 * The pool of ready tenant schemas: its state, and filling or emptying it
 * by hand (the worker keeps it at TENANT_POOL_SIZE on its own).
 */
export default class TenantsPool extends TenantCommand {
  static commandName = 'tenants:pool'
  static description = 'Show the pool of ready tenant schemas; fill or empty it'

  @flags.boolean({ description: 'Build spares up to the pool size now' })
  declare fill?: boolean

  @flags.boolean({ description: 'Drop every spare schema' })
  declare empty?: boolean

  @flags.number({ description: 'With --fill: the size to fill to (default TENANT_POOL_SIZE)' })
  declare size?: number

  async run() {
    if (this.fill && this.empty) throw new CommandError('Choose one of --fill and --empty')
    if (this.size !== undefined && (!Number.isSafeInteger(this.size) || this.size < 0)) {
      throw new CommandError(`Invalid --size "${this.size}": expected an integer ≥ 0`)
    }
    const pool = new TenantPool()

    if (this.fill) {
      const size = this.size ?? pool.size
      if (size === 0) {
        throw new CommandError('The pool size is 0 (TENANT_POOL_SIZE): pass --size to fill it')
      }
      const migrated = await pool.migrate()
      const progress = this.progress('built', 'spare schemas')
      const built = await pool.fill({
        size,
        onProgress: ({ done, total }) => progress.onProgress({ done, total, failed: 0 }),
      })
      progress.finish()
      const moved = migrated.migrated.length ? `, ${migrated.migrated.length} migrated` : ''
      this.logger.success(`Built ${built.length} spare schema(s)${moved}`)
    } else if (this.empty) {
      const dropped = await pool.empty()
      this.logger.success(`Dropped ${dropped} spare schema(s)`)
    }

    const status = await pool.status()
    this.logger.log(
      `Pool: ${status.ready} ready of ${status.total} spare(s), size ${status.size}` +
        `${status.size === 0 ? ' (off)' : ''}, latest migration ${status.latest ?? '(none)'}`
    )
    for (const row of status.versions) {
      if (row.version === status.latest) continue
      this.logger.log(
        `  ${row.spares} spare(s) at ${row.version ?? '(none)'}: behind, not claimable`
      )
    }
    if (status.oldest) this.logger.log(`  oldest spare built ${status.oldest.toISOString()}`)
  }
}
