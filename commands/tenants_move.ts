import { args, flags } from '@adonisjs/core/ace'
import { CommandError, TenantCommand } from './_tenant_command.js'
import {
  PlacementError,
  TenantPlacement,
  parseNode,
  type TransferMode,
} from '#tenancy/tenant_placement'

const MODES: TransferMode[] = ['auto', 'force_logical', 'block_writes']

/**
 * Moves a live tenant to another Citus worker (citus_schema_move). Refused
 * on plain PostgreSQL.
 */
export default class TenantsMove extends TenantCommand {
  static commandName = 'tenants:move'
  static description = "Move a tenant's schema to another Citus worker while it keeps serving"

  @args.string({ description: 'Tenant id' })
  declare id: string

  @args.string({ description: 'Target worker, host:port as in pg_dist_node' })
  declare node: string

  @flags.string({
    description: 'Shard transfer mode: auto (default), force_logical or block_writes',
  })
  declare mode?: string

  async run() {
    const tenantId = this.parseTenant(this.id)
    const mode = (this.mode ?? 'auto') as TransferMode
    if (!MODES.includes(mode)) {
      throw new CommandError(`Invalid mode "${this.mode}": expected one of ${MODES.join(', ')}`)
    }
    try {
      const result = await new TenantPlacement().move(tenantId, parseNode(this.node), mode)
      if (!result.moved) {
        this.logger.info(`Tenant ${tenantId} is already on ${result.to}; nothing to move`)
        return
      }
      this.logger.success(`Moved tenant ${tenantId} from ${result.from} to ${result.to}`)
    } catch (error) {
      if (error instanceof PlacementError) throw new CommandError(error.message)
      throw error
    }
  }
}
