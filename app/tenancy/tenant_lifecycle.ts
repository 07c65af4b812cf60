import emitter from '@adonisjs/core/services/emitter'
import { platformDb } from '#tenancy/platform'
import { TenantNotFoundException } from '#exceptions/tenancy'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

export interface TenantRecord {
  id: number
  name: string
  slug: string
  status: 'active' | 'suspended'
  schemaName: string
  migrationVersion: string | null
}

export interface StatusChange {
  tenant: TenantRecord
  /** False when the tenant already had that status (nothing changed, no event). */
  changed: boolean
}

const COLUMNS = 'id, name, slug, status, schema_name, migration_version'

/**
 * Operator actions on a whole tenant: suspend, resume, drop. Used by the
 * `tenants:*` commands; an admin API can call the same methods.
 *
 * A suspended tenant keeps its data; its requests are refused with 403
 * (`E_TENANT_SUSPENDED`, checked by the tenant middleware in the same round
 * trip that enters the tenant). Events are emitted after the change is
 * committed, and only when something changed.
 */
export class TenantLifecycle {
  async find(tenantId: number): Promise<TenantRecord> {
    const { rows } = await platformDb().rawQuery(
      `select ${COLUMNS} from public.tenants where id = ?`,
      [tenantId]
    )
    if (!rows[0]) throw new TenantNotFoundException(tenantId)
    return toRecord(rows[0])
  }

  async list(): Promise<TenantRecord[]> {
    const { rows } = await platformDb().rawQuery(
      `select ${COLUMNS} from public.tenants order by id`
    )
    return rows.map(toRecord)
  }

  suspend(tenantId: number): Promise<StatusChange> {
    return this.setStatus(tenantId, 'suspended')
  }

  resume(tenantId: number): Promise<StatusChange> {
    return this.setStatus(tenantId, 'active')
  }

  /**
   * Removes the tenant in one transaction: its platform row (its users,
   * their login sessions and refresh tokens follow by foreign-key cascade)
   * and its schema with every tenant table. The row is deleted first, so
   * it is locked against concurrent changes while the schema goes.
   */
  async drop(tenantId: number): Promise<TenantRecord> {
    const schema = tenantSchema(tenantId)
    const tenant = await platformDb().transaction(async (trx) => {
      const { rows } = await trx.rawQuery(
        `delete from public.tenants where id = ? returning ${COLUMNS}`,
        [tenantId]
      )
      if (!rows[0]) throw new TenantNotFoundException(tenantId)
      await trx.rawQuery(`drop schema if exists ${quoteIdent(schema)} cascade`)
      return toRecord(rows[0])
    })
    await emitter.emit('tenant:dropped', { tenantId, schema })
    return tenant
  }

  private async setStatus(tenantId: number, status: TenantRecord['status']): Promise<StatusChange> {
    const { rows } = await platformDb().rawQuery(
      `update public.tenants set status = ?, updated_at = now()
       where id = ? and status <> ? returning ${COLUMNS}`,
      [status, tenantId, status]
    )
    if (!rows[0]) {
      return { tenant: await this.find(tenantId), changed: false }
    }
    const event = status === 'suspended' ? 'tenant:suspended' : 'tenant:resumed'
    await emitter.emit(event, { tenantId, schema: tenantSchema(tenantId) })
    return { tenant: toRecord(rows[0]), changed: true }
  }
}

function toRecord(row: {
  id: number
  name: string
  slug: string
  status: TenantRecord['status']
  schema_name: string
  migration_version: string | null
}): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    status: row.status,
    schemaName: row.schema_name,
    migrationVersion: row.migration_version,
  }
}
