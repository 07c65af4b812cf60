import { parseId } from '#helpers/ids'

/**
 * Schema naming. A tenant's schema name is derived from its numeric id and
 * nothing else, so no user input ever reaches DDL or search_path.
 */
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
