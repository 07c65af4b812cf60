import { AsyncLocalStorage } from 'node:async_hooks'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { tenantSchema, tenantSearchPath } from '#tenancy/schema'
import { parseId } from '#helpers/ids'
import { beginWithEntry } from '#tenancy/tenant_transaction'
import { UUID } from '#auth/jwt'
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
 * Shorthand for a query builder on a tenant table in the current scope.
 */
export function tenantQuery(table: string) {
  return currentTenant().trx.from(table)
}

/**
 * The entry query: switches the search_path for this transaction only and
 * reads the tenant's status and, for requests, the user and login session.
 * It runs in the same round trip as BEGIN (see tenant_transaction.ts), so it
 * takes no bind parameters: every value is a validated integer or UUID.
 */
function entrySql(tenantId: number, principal?: Principal): string {
  const searchPath = tenantSearchPath(tenantId)
  const setPath = `set_config('search_path', '${searchPath}', true) as search_path`
  if (!principal) {
    return `select ${setPath}, t.status from public.tenants t where t.id = ${tenantId}`
  }
  const userId = parseId(principal.userId)
  if (userId === null || !UUID.test(principal.sessionId)) {
    throw new TypeError('Invalid principal')
  }
  return `select ${setPath}, t.status, u.id as user_id, u.role, u.is_active,
      (s.id is null or s.revoked_at is not null) as session_revoked
    from public.tenants t
    left join public.users u on u.id = ${userId} and u.tenant_id = t.id
    left join public.auth_sessions s on s.id = '${principal.sessionId}' and s.user_id = u.id
    where t.id = ${tenantId}`
}

function toEntry(row: Record<string, any> | undefined, principal?: Principal): TenantEntry | null {
  if (!row) return null
  if (!principal) return { status: row.status }
  return {
    status: row.status,
    user: row.user_id ? { id: row.user_id, role: row.role, isActive: row.is_active } : null,
    sessionRevoked: row.session_revoked,
  }
}

/**
 * Runs `fn` inside one transaction on the shared pool with the tenant's
 * schema first on the search_path. The switch is transaction-local
 * (set_config(..., true), like SET LOCAL): it ends with the transaction, so
 * the pooled connection goes back with the default search_path. Commits
 * when `fn` resolves, rolls back when it throws.
 *
 * Entering costs no round trip of its own: the entry query rides with
 * BEGIN. `check` sees the entry (null for an unknown tenant) before `fn`
 * runs and may throw; an unknown tenant always fails.
 */
export async function withTenant<T>(
  tenantId: number,
  fn: (trx: TransactionClientContract) => Promise<T>,
  options: { principal?: Principal; check?: (entry: TenantEntry | null) => void } = {}
): Promise<T> {
  const schema = tenantSchema(tenantId)
  const { trx, rows } = await beginWithEntry(entrySql(tenantId, options.principal))
  try {
    const entry = toEntry(rows[0], options.principal)
    options.check?.(entry)
    if (!entry) {
      throw new TenantNotFoundException(tenantId)
    }
    const result = await storage.run({ tenantId, schema, trx }, () => fn(trx))
    await trx.commit()
    return result
  } catch (error) {
    if (!trx.isCompleted) await trx.rollback()
    throw error
  }
}
