import { randomUUID } from 'node:crypto'
import string from '@adonisjs/core/helpers/string'
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose'
import jwtConfig from '#config/jwt'
import { parseId } from '#helpers/ids'

export const ROLES = ['owner', 'staff', 'customer'] as const
export type Role = (typeof ROLES)[number]

/**
 * The claims of an access token. `sid` names the login session the token
 * belongs to, so that logout and refresh-token reuse revoke it at once.
 */
export interface AccessClaims {
  sub: string
  tenant_id: number
  role: Role
  token_type: 'access'
  sid: string
  iat: number
  exp: number
  jti: string
}

export interface AccessSubject {
  userId: number
  tenantId: number
  role: Role
  sessionId: string
}

const key = new TextEncoder().encode(jwtConfig.secret)

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function seconds(duration: string | number): number {
  return Math.round(string.milliseconds.parse(duration) / 1000)
}

export async function signAccessToken(subject: AccessSubject): Promise<string> {
  return new SignJWT({
    tenant_id: subject.tenantId,
    role: subject.role,
    token_type: 'access',
    sid: subject.sessionId,
  })
    .setProtectedHeader({ alg: jwtConfig.algorithm, typ: 'JWT' })
    .setSubject(String(subject.userId))
    .setIssuer(jwtConfig.issuer)
    .setAudience(jwtConfig.audience)
    .setIssuedAt()
    .setExpirationTime(`${seconds(jwtConfig.accessTtl)}s`)
    .setJti(randomUUID())
    .sign(key)
}

/**
 * The verifying key, imported once: handing jose the raw secret would make
 * it import a key again for every token it checks.
 */
type VerifyingKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
let verifyingKey: Promise<VerifyingKey> | undefined
function verifyKey(): Promise<VerifyingKey> {
  // HS256 → HMAC with SHA-256
  const hash = `SHA-${jwtConfig.algorithm.slice(2)}`
  verifyingKey ??= crypto.subtle.importKey('raw', key, { name: 'HMAC', hash }, false, ['verify'])
  return verifyingKey
}

/**
 * Tokens that passed every check below, by their exact text: a client
 * sends the same access token with each request of its lifetime, and the
 * same bytes under the same key verify the same way, so only the time
 * checks are repeated (expiry, with the same tolerance). The login session
 * and the user are still checked against the database on every request
 * (app/auth/admission.ts). Bounded: the oldest entries go first.
 */
export const VERIFIED_TOKENS_MAX = 10_000
const verifiedTokens = new Map<string, AccessClaims>()

function unexpired(claims: AccessClaims): boolean {
  return claims.exp > Math.floor(Date.now() / 1000) - jwtConfig.clockToleranceSeconds
}

function remember(token: string, claims: AccessClaims) {
  if (verifiedTokens.size >= VERIFIED_TOKENS_MAX) {
    verifiedTokens.delete(verifiedTokens.keys().next().value as string)
  }
  verifiedTokens.set(token, Object.freeze(claims))
}

/**
 * Verifies signature (HS256 only), issuer, audience, expiry (with a small
 * clock tolerance) and the shape of every claim. Returns null for any token
 * that is not a valid access token.
 */
export async function verifyAccessToken(token: string): Promise<AccessClaims | null> {
  const known = verifiedTokens.get(token)
  if (known) {
    if (unexpired(known)) return known
    verifiedTokens.delete(token)
    return null
  }
  try {
    const { payload } = await jwtVerify(token, await verifyKey(), {
      algorithms: [jwtConfig.algorithm],
      issuer: jwtConfig.issuer,
      audience: jwtConfig.audience,
      clockTolerance: jwtConfig.clockToleranceSeconds,
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
    })
    const claims = payload as Partial<AccessClaims>
    const valid =
      claims.token_type === 'access' &&
      typeof claims.sub === 'string' &&
      parseId(claims.sub) !== null &&
      Number.isSafeInteger(claims.tenant_id) &&
      (claims.tenant_id as number) > 0 &&
      ROLES.includes(claims.role as Role) &&
      typeof claims.sid === 'string' &&
      UUID.test(claims.sid) &&
      typeof claims.jti === 'string' &&
      typeof claims.exp === 'number'
    if (!valid) return null
    remember(token, claims as AccessClaims)
    return claims as AccessClaims
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return null
    throw error
  }
}
