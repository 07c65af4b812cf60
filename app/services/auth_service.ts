import { inject } from '@adonisjs/core'
import hash from '@adonisjs/core/services/hash'
import db from '@adonisjs/lucid/services/db'
import { platformDb } from '#tenancy/platform'
import type { QueryClientContract } from '@adonisjs/lucid/types/database'
import { startSession, type TokenPair } from '#auth/refresh_tokens'
import { hashPassword } from '#auth/passwords'
import AppException from '#exceptions/app_exception'
import { InvalidCredentialsException } from '#exceptions/auth'
import { TenantSuspendedException } from '#exceptions/tenancy'
import { columnFromDetail } from '#exceptions/database_errors'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'
import { parseId } from '#helpers/ids'
import { USERNAME } from '#validators/auth'
import type { AccountRow } from '#models/user'
import type { TenantRow } from '#models/tenant'

export interface SignedIn extends TokenPair {
  user: AccountRow
  tenant: TenantRow
}

/**
 * A scrypt hash of a random value, verified against when the username is
 * unknown, so that an unknown user costs as much time as a wrong password.
 */
let dummyHash: Promise<string> | undefined
function unknownUserHash() {
  dummyHash ??= hash.make(`no-such-user-${Math.random()}`)
  return dummyHash
}

/**
 * Sign-up, login and the caller's own account. Passwords are hashed with
 * the framework's scrypt before any transaction opens.
 *
 * Sign-up, the uniqueness checks and the login lookup span the platform
 * (no tenant is known yet): they are the narrow paths that run on the
 * owner role's connection (platformDb). `me` runs on the request's tenant
 * transaction.
 */
@inject()
export class AuthService {
  /**
   * Creates a tenant (store), its schema and its owner atomically (see
   * TenantProvisioner), then starts the owner's first session.
   */
  async register(input: {
    username: string
    email: string
    password: string
    store_name: string
  }): Promise<SignedIn> {
    await this.assertAvailable(platformDb(), input)
    const passwordHash = await hashPassword(input.password)

    let provisioned
    let pair: TokenPair | undefined
    try {
      provisioned = await new TenantProvisioner().provision(
        {
          name: input.store_name,
          owner: { username: input.username, email: input.email, passwordHash },
        },
        async (trx, { tenant, owner }) => {
          pair = await startSession({ id: owner.id, tenantId: tenant.id, role: 'owner' }, trx)
        }
      )
    } catch (error) {
      throw asSignUpConflict(error)
    }

    const { tenant, owner } = provisioned
    return {
      access: pair!.access,
      refresh: pair!.refresh,
      user: { id: owner.id, username: owner.username, email: owner.email, role: 'owner' },
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
    }
  }

  /**
   * Creates a customer of an existing store, named by slug or id, and
   * starts their first session, in one transaction.
   */
  async registerCustomer(input: {
    store: string | number
    username: string
    email: string
    password: string
  }): Promise<SignedIn> {
    const passwordHash = await hashPassword(input.password)

    return platformDb().transaction(async (trx) => {
      const tenant = await findStore(trx, input.store)
      if (!tenant) throw AppException.notFound('Store not found')
      if (tenant.status !== 'active') throw new TenantSuspendedException()

      await this.assertAvailable(trx, input)
      const { rows } = await trx.rawQuery(
        `insert into public.users (tenant_id, username, email, password, role)
         values (?, ?, ?, ?, 'customer')
         returning id, username, email, role`,
        [tenant.id, input.username, input.email, passwordHash]
      )
      const user: AccountRow = rows[0]
      const pair = await startSession({ id: user.id, tenantId: tenant.id, role: 'customer' }, trx)
      return {
        access: pair.access,
        refresh: pair.refresh,
        user,
        tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
      }
    })
  }

  /**
   * Verifies username and password. Unknown user, wrong password and a
   * deactivated account are the same 401 (InvalidCredentialsException),
   * and an unknown user still costs one scrypt verification. A suspended
   * tenant is told (403) only to a caller who knew the password.
   */
  async login(input: { username: string; password: string }): Promise<SignedIn> {
    const row = USERNAME.test(input.username) ? await findLogin(input.username) : undefined
    const verified = await hash.verify(row?.password ?? (await unknownUserHash()), input.password)
    if (!row || !verified || !row.is_active) throw new InvalidCredentialsException()
    if (row.status !== 'active') throw new TenantSuspendedException()

    const pair = await startSession({ id: row.id, tenantId: row.tenant_id, role: row.role })
    return {
      access: pair.access,
      refresh: pair.refresh,
      user: { id: row.id, username: row.username, email: row.email, role: row.role },
      tenant: { id: row.tenant_id, name: row.tenant_name, slug: row.tenant_slug },
    }
  }

  /**
   * The caller and their tenant, read on the request's tenant transaction.
   */
  async me(
    client: QueryClientContract,
    userId: number,
    tenantId: number
  ): Promise<{ user: AccountRow; tenant: TenantRow }> {
    const { rows } = await client.rawQuery(
      `select u.id, u.username, u.email, u.role,
              t.id as tenant_id, t.name as tenant_name, t.slug as tenant_slug
       from public.users u
       join public.tenants t on t.id = u.tenant_id
       where u.id = ? and u.tenant_id = ?`,
      [userId, tenantId]
    )
    const row = rows[0]
    if (!row) throw AppException.notFound('User not found')
    return {
      user: { id: row.id, username: row.username, email: row.email, role: row.role },
      tenant: { id: row.tenant_id, name: row.tenant_name, slug: row.tenant_slug },
    }
  }

  /**
   * Answers 409 before any hashing or DDL when a name is already taken
   * (case-insensitively, like the unique indexes). The unique indexes stay
   * the authority: a concurrent sign-up is mapped by asSignUpConflict.
   */
  private async assertAvailable(
    client: QueryClientContract,
    input: { username: string; email: string; store_name?: string }
  ) {
    const { rows } = await client.rawQuery(
      `select
         exists (select 1 from public.users where lower(username) = lower(?)) as username,
         exists (select 1 from public.users where lower(email) = lower(?)) as email,
         exists (select 1 from public.tenants where lower(name) = lower(?)) as store_name`,
      [input.username, input.email, input.store_name ?? db.raw('null')]
    )
    const taken = rows[0]
    if (taken.username) throw AppException.conflict('The username is already taken', 'username')
    if (taken.email) throw AppException.conflict('The email is already taken', 'email')
    if (taken.store_name) {
      throw AppException.conflict('The store name is already taken', 'store_name')
    }
  }
}

/**
 * A unique violation during provisioning names the column of the index:
 * the tenants' `name` is the request's `store_name`.
 */
function asSignUpConflict(error: unknown): unknown {
  const pg = error as { code?: string; detail?: string; column?: string }
  if (pg?.code !== '23505') return error
  const column = pg.column ?? columnFromDetail(pg.detail)
  if (column === 'name')
    return AppException.conflict('The store name is already taken', 'store_name')
  if (column === 'username' || column === 'email') {
    return AppException.conflict(`The ${column} is already taken`, column)
  }
  return error
}

/**
 * The user of a login name with their tenant. A name outside the username
 * rules cannot exist, so the caller does not query for it.
 */
async function findLogin(username: string) {
  const { rows } = await platformDb().rawQuery(
    `select u.id, u.username, u.email, u.role, u.password, u.is_active,
            t.id as tenant_id, t.name as tenant_name, t.slug as tenant_slug, t.status
     from public.users u
     join public.tenants t on t.id = u.tenant_id
     where lower(u.username) = lower(?)`,
    [username]
  )
  return rows[0]
}

/**
 * A store by numeric id or by slug. Slugs always contain a letter, so the
 * two never collide.
 */
async function findStore(client: QueryClientContract, store: string | number) {
  const id = parseId(typeof store === 'string' ? store.trim() : store)
  const { rows } = await client.rawQuery(
    id !== null
      ? `select id, name, slug, status from public.tenants where id = ? for share`
      : `select id, name, slug, status from public.tenants where slug = lower(?) for share`,
    [id ?? String(store).trim()]
  )
  return rows[0] as (TenantRow & { status: string }) | undefined
}
