import { errors as authErrors } from '@adonisjs/auth'
import type { EntryFragment, TenantEntry } from '#tenancy/context'
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
 * The admission statement. It runs after the tenant is entered, so
 * row-level security already hides other tenants' users and sessions; the
 * tenant id is stated too. Built from validated integers and a UUID only
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
    sql: `select u.id as user_id, u.role, u.is_active,
        (s.id is null or s.revoked_at is not null) as session_revoked
      from public.users u
      left join public.auth_sessions s on s.id = '${principal.sessionId}' and s.user_id = u.id
      where u.id = ${principal.id} and u.tenant_id = ${principal.tenantId}`,
    read: (row) =>
      row
        ? {
            id: row.user_id,
            role: row.role,
            isActive: row.is_active,
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
