import { inject } from '@adonisjs/core'
import db from '@adonisjs/lucid/services/db'
import type { Role } from '#auth/jwt'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { revokeSessionsOfUser } from '#auth/refresh_tokens'
import AppException from '#exceptions/app_exception'
import { paginate, type PageRequest } from '#services/pagination'
import { currentTenant } from '#tenancy/context'
import { type UserRow, USER_COLUMNS } from '#models/user'

export type ManagedRole = Exclude<Role, 'owner'>

export interface UserChanges {
  email?: string
  /** A hash made before the transaction (hashPassword), never a plain password. */
  passwordHash?: string
  role?: ManagedRole
  is_active?: boolean
}

/**
 * The people of the caller's store. Users live in the platform table
 * `public.users`; every query runs on the request's tenant transaction and
 * is filtered by the current tenant's id, so a user of another tenant is
 * never found (404).
 *
 * An owner cannot demote, deactivate or delete themself (409: the store
 * would be left without an owner).
 */
@inject()
export class UserService {
  private users() {
    const { trx, tenantId } = currentTenant()
    return trx.from('public.users').where('tenant_id', tenantId)
  }

  list(filters: PageRequest & { role?: Role }) {
    const query = this.users().select(USER_COLUMNS).orderBy('id', 'asc')
    if (filters.role) query.where('role', filters.role)
    return paginate<UserRow>(query, filters)
  }

  async find(id: number): Promise<UserRow> {
    const row = await this.users().where('id', id).select(USER_COLUMNS).first()
    if (!row) throw AppException.notFound('User not found')
    return row
  }

  async create(input: {
    username: string
    email: string
    passwordHash: string
    role: ManagedRole
  }): Promise<UserRow> {
    const { trx, tenantId } = currentTenant()
    const [row] = await trx
      .insertQuery()
      .table('public.users')
      .insert({
        tenant_id: tenantId,
        username: input.username,
        email: input.email,
        password: input.passwordHash,
        role: input.role,
      })
      .returning(USER_COLUMNS)
    return row
  }

  async update(actor: AuthPrincipal, id: number, changes: UserChanges): Promise<UserRow> {
    const { trx } = currentTenant()
    const current = await this.users().where('id', id).select('id', 'role').forUpdate().first()
    if (!current) throw AppException.notFound('User not found')

    if (id === actor.id) {
      if (changes.role !== undefined && changes.role !== current.role) {
        throw AppException.conflict('An owner cannot change their own role', 'role')
      }
      if (changes.is_active === false) {
        throw AppException.conflict('An owner cannot deactivate themself', 'is_active')
      }
    }

    const values: Record<string, unknown> = {}
    if (changes.email !== undefined) values.email = changes.email
    if (changes.role !== undefined) values.role = changes.role
    if (changes.is_active !== undefined) values.is_active = changes.is_active
    if (changes.passwordHash !== undefined) values.password = changes.passwordHash
    if (Object.keys(values).length === 0) return this.find(id)
    values.updated_at = db.raw('now()')

    const [row] = await this.users().where('id', id).update(values).returning(USER_COLUMNS)

    // A new password or a deactivation ends the user's logins; the owner
    // changing their own password keeps the session they did it from.
    if (changes.passwordHash !== undefined || changes.is_active === false) {
      const keep = id === actor.id ? actor.sessionId : undefined
      await revokeSessionsOfUser(trx, id, changes.passwordHash ? 'password' : 'deactivated', keep)
    }
    return row
  }

  /**
   * Products and orders are assigned to active staff members of this store
   * only: anything else is a 422 on `assigned_to`.
   */
  async assertActiveStaff(userId: number) {
    const staff = await this.users()
      .where({ id: userId, role: 'staff', is_active: true })
      .select('id')
      .first()
    if (!staff) {
      throw AppException.unprocessable(
        'The assigned_to field must be an active staff member of this store',
        'assigned_to'
      )
    }
  }

  async delete(actor: AuthPrincipal, id: number): Promise<void> {
    if (id === actor.id) throw AppException.conflict('An owner cannot delete themself')
    const deleted = await this.users().where('id', id).delete()
    if (!Number(deleted)) throw AppException.notFound('User not found')
  }
}
