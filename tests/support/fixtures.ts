import { randomUUID } from 'node:crypto'
import db from '#tests/support/platform_db'
import hash from '@adonisjs/core/services/hash'
import { type Role, signAccessToken } from '#auth/jwt'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'

/**
 * `given…` helpers for tests: real tenants, users and tokens made through
 * the same code paths as the API.
 */
let counter = 0
const unique = (prefix: string) => `${prefix}${process.pid}x${Date.now().toString(36)}x${++counter}`

/**
 * One scrypt hash shared by every fixture user (password "password123"),
 * so fixtures do not spend the test run hashing.
 */
let passwordHash: Promise<string> | undefined
export const FIXTURE_PASSWORD = 'password123'
export function fixturePasswordHash() {
  passwordHash ??= hash.make(FIXTURE_PASSWORD)
  return passwordHash
}

export interface GivenUser {
  id: number
  tenantId: number
  username: string
  email: string
  role: Role
  sessionId: string
  token: string
}

export interface GivenTenant {
  id: number
  name: string
  slug: string
  schemaName: string
  owner: GivenUser
}

export async function givenTenant(name = unique('Store ')): Promise<GivenTenant> {
  const username = unique('owner')
  const { tenant, owner } = await new TenantProvisioner().provision({
    name,
    owner: {
      username,
      email: `${username}@example.com`,
      passwordHash: await fixturePasswordHash(),
    },
  })
  return {
    id: tenant.id,
    name: tenant.name,
    slug: tenant.slug,
    schemaName: tenant.schemaName,
    owner: await loggedIn({ ...owner, role: 'owner' }),
  }
}

export async function givenUser(
  tenant: { id: number },
  role: Role,
  attributes: { isActive?: boolean } = {}
): Promise<GivenUser> {
  const username = unique(role)
  const { rows } = await db.rawQuery(
    `insert into public.users (tenant_id, username, email, password, role, is_active)
     values (?, ?, ?, ?, ?, ?) returning id`,
    [
      tenant.id,
      username,
      `${username}@example.com`,
      await fixturePasswordHash(),
      role,
      attributes.isActive ?? true,
    ]
  )
  return loggedIn({
    id: rows[0].id,
    tenantId: tenant.id,
    username,
    email: `${username}@example.com`,
    role,
  })
}

/**
 * Starts a login session for the user and signs an access token for it.
 */
async function loggedIn(user: Omit<GivenUser, 'sessionId' | 'token'>): Promise<GivenUser> {
  const sessionId = randomUUID()
  await db.rawQuery(
    `insert into public.auth_sessions (id, user_id, tenant_id, expires_at)
     values (?, ?, ?, now() + interval '7 days')`,
    [sessionId, user.id, user.tenantId]
  )
  const token = await signAccessToken({
    userId: user.id,
    tenantId: user.tenantId,
    role: user.role,
    sessionId,
  })
  return { ...user, sessionId, token }
}
