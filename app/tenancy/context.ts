import { AsyncLocalStorage } from 'node:async_hooks'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { tenantSchema, tenantSearchPath } from '#tenancy/schema'
import { MissingTenantContextException, TenantNotFoundException } from '#exceptions/tenancy'

/**
 * The tenant a piece of code runs for, and the one transaction every
 * tenant-scoped query of that request or job goes through.
 */
export interface TenantScope {
  tenantId: number
  schema: string
  trx: TransactionClientContract
}

/**
 * The tenant's platform row, and the principal's, read in the same round
 * trip that switches the search_path.
 */
export interface TenantEntry {
  status: 'active' | 'suspended'
  user?: { id: number; role: string; isActive: boolean } | null
  sessionRevoked?: boolean
}

export interface Principal {
  userId: number
  sessionId: string
}

const storage = new AsyncLocalStorage<TenantScope>()

/**
 * The current tenant scope. Throws when there is none: code that touches
 * tenant tables outside `withTenant` fails loudly instead of falling back
 * to public or to another tenant.
 */
export function currentTenant(): TenantScope {
  const scope = storage.getStore()
  if (!scope || scope.trx.isCompleted) {
    throw new MissingTenantContextException()
  }
  return scope
}

/**
 * The current tenant scope, or undefined outside one.
 */
export function findTenant(): TenantScope | undefined {
  return storage.getStore()
}

/**
 * Shorthand for a query builder on a tenant table in the current scope.
 */
export function tenantQuery(table: string) {
  return currentTenant().trx.from(table)
}

const ENTRY_SQL = `
  select set_config('search_path', ?, true) as search_path, t.status
  from public.tenants t
  where t.id = ?`

const PRINCIPAL_ENTRY_SQL = `
  select set_config('search_path', ?, true) as search_path, t.status,
         u.id as user_id, u.role, u.is_active,
         (s.id is null or s.revoked_at is not null) as session_revoked
  from public.tenants t
  left join public.users u on u.id = ? and u.tenant_id = t.id
  left join public.auth_sessions s on s.id = ? and s.user_id = u.id
  where t.id = ?`

/**
 * Runs `fn` inside one transaction on the shared pool with the tenant's
 * schema first on the search_path. The switch is transaction-local
 * (set_config(..., true), like SET LOCAL): it ends with the transaction, so
 * the pooled connection goes back with the default search_path. Commits
 * when `fn` resolves, rolls back when it throws.
 *
 * The same query reads the tenant's status (and, for requests, the user
 * and login session), so entering a tenant costs one round trip besides
 * BEGIN and COMMIT. `check` sees that entry (null for an unknown tenant)
 * before `fn` runs and may throw; an unknown tenant always fails.
 */
export async function withTenant<T>(
  tenantId: number,
  fn: (trx: TransactionClientContract) => Promise<T>,
  options: { principal?: Principal; check?: (entry: TenantEntry | null) => void } = {}
): Promise<T> {
  const schema = tenantSchema(tenantId)
  return db.transaction(async (trx) => {
    const entry = await enter(trx, tenantId, options.principal)
    options.check?.(entry)
    if (!entry) {
      throw new TenantNotFoundException(tenantId)
    }
    return storage.run({ tenantId, schema, trx }, () => fn(trx))
  })
}

async function enter(
  trx: TransactionClientContract,
  tenantId: number,
  principal?: Principal
): Promise<TenantEntry | null> {
  const searchPath = tenantSearchPath(tenantId)
  if (!principal) {
    const { rows } = await trx.rawQuery(ENTRY_SQL, [searchPath, tenantId])
    return rows[0] ? { status: rows[0].status } : null
  }
  const { rows } = await trx.rawQuery(PRINCIPAL_ENTRY_SQL, [
    searchPath,
    principal.userId,
    principal.sessionId,
    tenantId,
  ])
  const row = rows[0]
  if (!row) return null
  return {
    status: row.status,
    user: row.user_id ? { id: row.user_id, role: row.role, isActive: row.is_active } : null,
    sessionRevoked: row.session_revoked,
  }
}
