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
