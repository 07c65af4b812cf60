/**
 * Schema naming. A tenant's schema name is derived from its numeric id and
 * nothing else, so no user input ever reaches DDL or search_path.
 */
export const TENANT_SCHEMA_PATTERN = /^tenant_[1-9][0-9]*$/

/**
 * Returns the id when the value is a positive safe integer (a number or a
 * canonical numeric string), else null.
 */
export function parseTenantId(value: unknown): number | null {
  const id = typeof value === 'string' && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : value
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null
}

/**
 * A spare schema of the pool (see tenant_pool.ts): named from the id of its
 * `public.tenant_spares` row, renamed to `tenant_<id>` when a sign-up
 * claims it.
 */
export const SPARE_SCHEMA_PATTERN = /^tenant_spare_[1-9][0-9]*$/

export function spareSchema(spareId: number): string {
  if (parseTenantId(spareId) === null) {
    throw new TypeError(`Invalid spare id: ${String(spareId)}`)
  }
  return `tenant_spare_${spareId}`
}

export function tenantSchema(tenantId: number): string {
  if (parseTenantId(tenantId) === null) {
    throw new TypeError(`Invalid tenant id: ${String(tenantId)}`)
  }
  return `tenant_${tenantId}`
}

/**
 * Quotes an identifier for SQL. Schema names are also checked against the
 * tenant pattern before they get here; quoting is the second fence.
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
