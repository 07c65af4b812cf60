import { parseId } from '#helpers/ids'

/**
 * Schema naming. A tenant's schema name is derived from its numeric id and
 * nothing else, so no user input ever reaches DDL or search_path.
 */
/**
 * A spare schema of the pool (see tenant_pool.ts): named from the id of its
 * `public.tenant_spares` row, renamed to `tenant_<id>` when a sign-up
 * claims it.
 */
export const SPARE_SCHEMA_PATTERN = /^tenant_spare_[1-9][0-9]*$/

export function spareSchema(spareId: number): string {
  if (parseId(spareId) === null) {
    throw new TypeError(`Invalid spare id: ${String(spareId)}`)
  }
  return `tenant_spare_${spareId}`
}

export function tenantSchema(tenantId: number): string {
  if (parseId(tenantId) === null) {
    throw new TypeError(`Invalid tenant id: ${String(tenantId)}`)
  }
  return `tenant_${tenantId}`
}

/**
 * Quotes an identifier for SQL. Schema names are built from a checked id
 * (tenantSchema) before they get here; quoting is the second fence.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * The search_path of a tenant transaction: the tenant's schema first, then
 * public for the platform tables and extension operators. Tenant table
 * names never exist in public, so nothing can fall through to it.
 */
export function tenantSearchPath(tenantId: number): string {
  return `${quoteIdent(tenantSchema(tenantId))}, public`
}
