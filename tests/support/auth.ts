import { randomBytes, randomInt } from 'node:crypto'
import type { ApiClient } from '@japa/api-client'
import db from '#tests/support/platform_db'
import { SignJWT } from 'jose'
import jwtConfig from '#config/jwt'

/**
 * Helpers of the auth and users tests. Every sign-up and failed login
 * comes from its own client IP (X-Forwarded-For; the app trusts its
 * proxy) and uses fresh names, so the rate limits of one test, or of an
 * earlier run (Redis keeps its counters), never leak into another.
 */
let counter = 0
export function uniqueName(prefix = 'user') {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`
}

export function uniqueIp() {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`
}

export const PASSWORD = 'correct horse battery'

export interface SignUp {
  username: string
  email: string
  password: string
  store_name: string
}

export function signUpBody(overrides: Partial<SignUp> = {}): SignUp {
  const username = uniqueName('owner')
  return {
    username,
    email: `${username}@example.com`,
    password: PASSWORD,
    store_name: uniqueName('Store'),
    ...overrides,
  }
}

/**
 * Registers a tenant (store) through the API and returns the answer's body.
 */
export async function registerTenant(client: ApiClient, overrides: Partial<SignUp> = {}) {
  const body = signUpBody(overrides)
  const response = await client
    .post('/api/auth/register/')
    .header('x-forwarded-for', uniqueIp())
    .json(body)
  response.assertStatus(201)
  return { ...response.body(), password: body.password } as {
    access: string
    refresh: string
    user: { id: number; username: string; email: string; role: string }
    tenant: { id: number; name: string; slug: string }
    password: string
  }
}

export function login(client: ApiClient, username: string, password: string, ip = uniqueIp()) {
  return client.post('/api/auth/login/').header('x-forwarded-for', ip).json({ username, password })
}

/**
 * Signs a JWT with the given claims and key, for forged-token tests.
 */
export function signWith(
  claims: Record<string, unknown>,
  options: { key?: string; expiresIn?: string | number } = {}
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(jwtConfig.issuer)
    .setAudience(jwtConfig.audience)
    .setIssuedAt()
    .setJti(randomBytes(8).toString('hex'))
    .setExpirationTime(options.expiresIn ?? '15m')
    .sign(new TextEncoder().encode(options.key ?? jwtConfig.secret))
}

export function decodePayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

export async function setTenantStatus(tenantId: number, status: 'active' | 'suspended') {
  await db.from('public.tenants').where('id', tenantId).update({ status })
}
