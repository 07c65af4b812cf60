import { errors as authErrors } from '@adonisjs/auth'
import { withTenant, type EntryFragment, type TenantEntry } from '#tenancy/context'
import { UUID } from '#auth/jwt'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { TenantSuspendedException } from '#exceptions/tenancy'

/**
 * Auth's part of the tenant entry: the user and login session named by the
 * access token, read in the same round trip that enters the tenant (the
 * tenancy core only knows tenants; see app/tenancy/context.ts).
 */
export interface AdmittedUser {
  id: number
  role: AuthPrincipal['role']
  isActive: boolean
  sessionRevoked: boolean
}

/**
 * The admission statement: `tenancy.admission` (migration 0007), one
 * SECURITY DEFINER function of the platform schema that reads the user and
 * the login session of the sealed tenant only (nulls outside an entered
 * transaction), instead of a join of two tables under row-level security
 * (two seal checks and two policies planned per request). It runs after
 * the tenant is entered. Built from validated integers and a UUID only
 * (the entry takes no bind parameters).
 */
export function sessionAdmission(principal: AuthPrincipal): EntryFragment<AdmittedUser | null> {
  if (
    !Number.isSafeInteger(principal.id) ||
    principal.id < 1 ||
    !Number.isSafeInteger(principal.tenantId) ||
    principal.tenantId < 1 ||
    !UUID.test(principal.sessionId)
  ) {
    throw new TypeError('Invalid principal')
  }
  return {
    sql: `select user_role, user_active, session_revoked
      from tenancy.admission(${principal.id}, '${principal.sessionId}')`,
    read: (row) =>
      row?.user_role
        ? {
            id: principal.id,
            role: row.user_role,
            isActive: row.user_active,
            sessionRevoked: row.session_revoked,
          }
        : null,
  }
}

/**
 * The decision: a deleted or deactivated user or a revoked login session
 * is a 401, a suspended tenant a 403. The role is taken from the database,
 * so a role change applies at once.
 */
export function admit(principal: AuthPrincipal, entry: TenantEntry<AdmittedUser | null> | null) {
  const user = entry?.admission
  if (!entry || !user || !user.isActive || user.sessionRevoked) {
    throw new authErrors.E_UNAUTHORIZED_ACCESS('Invalid or expired access token', {
      guardDriverName: 'jwt',
    })
  }
  if (entry.status !== 'active') {
    throw new TenantSuspendedException()
  }
  principal.role = user.role
}

/**
 * Runs `fn` in a transaction of the principal's tenant, admitted first: what
 * the tenant middleware does, for a route that opens its tenant transaction
 * itself (the one-round-trip product list, when its fast path does not
 * apply). Committed when `fn` resolves, rolled back when it throws.
 */
export function withAdmittedTenant<T>(principal: AuthPrincipal, fn: () => Promise<T>): Promise<T> {
  return withTenant(principal.tenantId, fn, {
    admission: sessionAdmission(principal),
    check: (entry) => admit(principal, entry),
  })
}
