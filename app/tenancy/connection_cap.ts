/**
 * A cap on the distinct tenants one pooled connection of the runtime pool
 * serves (`DB_CONNECTION_MAX_TENANTS`, docs/design/pool_slices.md).
 *
 * A PostgreSQL backend keeps the catalog entries (relcache, catcache) of
 * every tenant schema it has planned a query in, about 50 KiB per tenant,
 * until it exits. The connection lifetime bounds that by time; this bounds
 * it by tenants: a connection that has served `max` distinct tenants is
 * retired, so its backend exits and a fresh one takes its place.
 *
 * How it stays clean:
 * - The tenant entry notes the tenant on the physical connection
 *   (`servedTenant`, called by app/tenancy/tenant_transaction.ts when BEGIN
 *   and the entry succeeded).
 * - The pool asks `acceptsMoreTenants` when it hands a free connection
 *   out (knex's `pool.validate`, run by tarn on every acquire). A
 *   connection at its cap fails validation and tarn destroys it and
 *   creates another for that acquire. A connection is therefore only ever
 *   retired while idle in the pool: never during a transaction, and the
 *   slice scheduler's leases (which count transactions, not physical
 *   connections) are not involved.
 * - A single tenant's traffic never retires anything: only distinct
 *   tenants count.
 *
 * This module imports nothing: config/database.ts uses it.
 */

/** tenant ids noted per physical connection (pg Client) */
const served = new WeakMap<object, Set<number>>()

/** Notes that `connection` ran a transaction for `tenantId`. */
export function servedTenant(connection: object, tenantId: number): void {
  let tenants = served.get(connection)
  if (!tenants) {
    tenants = new Set()
    served.set(connection, tenants)
  }
  tenants.add(tenantId)
}

/** The distinct tenants `connection` has served. */
export function tenantsServed(connection: object): ReadonlySet<number> {
  return served.get(connection) ?? new Set()
}

let retired = 0

/** Connections retired by a cap in this process since the start. */
export function retiredConnections(): number {
  return retired
}

/**
 * A pool `validate` function: false once a connection has served `max`
 * distinct tenants (0 or less: no cap), so it serves at most `max`. With
 * `max` ≥ 2 one tenant's traffic alone never retires a connection (1
 * would retire it after every transaction).
 */
export function acceptsMoreTenants(max: number): (connection: object) => boolean {
  return (connection) => {
    if (max <= 0 || tenantsServed(connection).size < max) return true
    retired++
    return false
  }
}
