import { createHash, randomBytes } from 'node:crypto'
import db from '@adonisjs/lucid/services/db'
import { platformDb } from '#tenancy/platform'
import type { QueryClientContract } from '@adonisjs/lucid/types/database'
import jwtConfig from '#config/jwt'
import { type Role, ROLES, seconds, signAccessToken } from '#auth/jwt'
import { InvalidRefreshTokenException } from '#exceptions/auth'
import { TenantSuspendedException } from '#exceptions/tenancy'

/**
 * Login sessions and their refresh tokens (public.auth_sessions,
 * public.refresh_tokens).
 *
 * Starting, rotating, revoking by token and purging happen before any
 * tenant is known, across the platform: they run on the owner role's
 * connection (platformDb). Inside a tenant transaction, row-level security
 * shows the runtime role only its tenant's sessions.
 *
 * A session is the family of every token issued from one login or
 * sign-up. Each refresh extends it by the refresh lifetime, but never past
 * its absolute lifetime (JWT_SESSION_MAX_AGE after its `created_at`):
 * then the client must log in again. Access tokens carry its id as `sid`; the tenant middleware
 * refuses them once the session is revoked. Refresh tokens are 256 random
 * bits, handed out once and stored only as their SHA-256 hash; each is
 * single use. Rotation consumes the presented token with one conditional
 * UPDATE (`used_at is null`), so of two concurrent refreshes with the same
 * token exactly one wins, and the other is treated as a reuse.
 */
export interface TokenPair {
  access: string
  refresh: string
}

export interface SessionSubject {
  id: number
  tenantId: number
  role: Role
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

function newRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

function refreshTtlSeconds(): number {
  return seconds(jwtConfig.refreshTtl)
}

function sessionMaxAgeSeconds(): number {
  return seconds(jwtConfig.sessionMaxAge)
}

/**
 * Starts a login session: the session row and its first refresh token in
 * one statement, then the access token naming the session. Runs on
 * `client` (a transaction of the caller's) when given.
 */
export async function startSession(
  subject: SessionSubject,
  client: QueryClientContract = platformDb()
): Promise<TokenPair & { sessionId: string }> {
  const refresh = newRefreshToken()
  const { rows } = await client.rawQuery(
    `with session as (
       insert into public.auth_sessions (user_id, tenant_id, expires_at)
       values (?, ?, now() + make_interval(secs => ?))
       returning id, expires_at
     )
     insert into public.refresh_tokens (session_id, token_hash, expires_at)
     select id, ?, expires_at from session
     returning session_id`,
    [
      subject.id,
      subject.tenantId,
      Math.min(refreshTtlSeconds(), sessionMaxAgeSeconds()),
      hashRefreshToken(refresh),
    ]
  )
  const sessionId: string = rows[0].session_id
  const access = await signAccessToken({
    userId: subject.id,
    tenantId: subject.tenantId,
    role: subject.role,
    sessionId,
  })
  return { access, refresh, sessionId }
}

/**
 * Consumes the token if it is unused and unexpired; returns its session,
 * user and tenant in the same round trip.
 */
const CONSUME_SQL = `
  with used as (
    update public.refresh_tokens set used_at = now()
    where token_hash = ? and used_at is null and expires_at > now()
    returning session_id
  )
  select s.id as session_id,
         (s.revoked_at is not null or s.expires_at <= now()
           or s.created_at <= now() - make_interval(secs => ?)) as session_closed,
         u.id as user_id, u.tenant_id, u.role, u.is_active, t.status
  from used
  join public.auth_sessions s on s.id = used.session_id
  join public.users u on u.id = s.user_id
  join public.tenants t on t.id = u.tenant_id`

const ISSUE_SQL = `
  with session as (
    update public.auth_sessions
    set expires_at = least(now() + make_interval(secs => ?), created_at + make_interval(secs => ?))
    where id = ?
    returning id, expires_at
  )
  insert into public.refresh_tokens (session_id, token_hash, expires_at)
  select id, ?, expires_at from session`

/**
 * Exchanges a refresh token for a new pair. The presented token stops
 * working; the new refresh token extends the session by the refresh
 * lifetime, up to the session's absolute lifetime. Refused (401) when the
 * token is unknown, expired or used, or when its session is revoked, past
 * its absolute lifetime, its user deactivated or deleted; 403
 * E_TENANT_SUSPENDED for a suspended tenant (the token is then left
 * unused, so it works again once the tenant is resumed).
 *
 * Presenting a token that was already used revokes its whole session:
 * every refresh and access token of that login stops working.
 */
export async function rotateRefreshToken(token: string): Promise<TokenPair> {
  const tokenHash = hashRefreshToken(token)
  const outcome = await platformDb().transaction(async (trx): Promise<{ pair?: TokenPair }> => {
    const { rows } = await trx.rawQuery(CONSUME_SQL, [tokenHash, sessionMaxAgeSeconds()])
    const row = rows[0]
    if (!row) {
      await revokeIfReused(trx, tokenHash)
      return {}
    }
    if (row.session_closed || !row.is_active || !ROLES.includes(row.role)) {
      throw new InvalidRefreshTokenException()
    }
    if (row.status !== 'active') {
      throw new TenantSuspendedException()
    }

    const refresh = newRefreshToken()
    await trx.rawQuery(ISSUE_SQL, [
      refreshTtlSeconds(),
      sessionMaxAgeSeconds(),
      row.session_id,
      hashRefreshToken(refresh),
    ])
    const access = await signAccessToken({
      userId: row.user_id,
      tenantId: row.tenant_id,
      role: row.role,
      sessionId: row.session_id,
    })
    return { pair: { access, refresh } }
  })

  // A reuse revocation is committed before the 401 is thrown.
  if (!outcome.pair) throw new InvalidRefreshTokenException()
  return outcome.pair
}

/**
 * The token was not consumable. If it is a known, already used token of
 * an open session, that is a replay (a stolen token, or a client that
 * lost a race): the session is revoked.
 */
async function revokeIfReused(trx: QueryClientContract, tokenHash: Buffer) {
  await trx.rawQuery(
    `update public.auth_sessions s
     set revoked_at = now(), revoked_reason = 'reuse'
     from public.refresh_tokens r
     where r.token_hash = ? and r.used_at is not null
       and s.id = r.session_id and s.revoked_at is null`,
    [tokenHash]
  )
}

/**
 * Logout: revokes the session of the presented refresh token (used or
 * not), so it, its successors and every access token of that login stop
 * working. Unknown tokens change nothing; the answer is the same.
 */
export async function revokeSessionOf(token: string): Promise<void> {
  await platformDb().rawQuery(
    `update public.auth_sessions s
     set revoked_at = now(), revoked_reason = 'logout'
     from public.refresh_tokens r
     where r.token_hash = ? and s.id = r.session_id and s.revoked_at is null`,
    [hashRefreshToken(token)]
  )
}

/**
 * Revokes every open session of a user, except `keepSessionId` when given
 * (a user changing their own password stays logged in where they did it).
 */
export async function revokeSessionsOfUser(
  client: QueryClientContract,
  userId: number,
  reason: string,
  keepSessionId?: string
): Promise<void> {
  const query = client.from('public.auth_sessions').where('user_id', userId).whereNull('revoked_at')
  if (keepSessionId) query.whereNot('id', keepSessionId)
  await query.update({ revoked_at: db.raw('now()'), revoked_reason: reason })
}

/**
 * Deletes expired and revoked sessions (their refresh tokens go with
 * them) and expired refresh tokens of sessions still open. A purged
 * session's access tokens stay refused: the tenant middleware treats a
 * missing session like a revoked one.
 */
export async function purgeSessions(): Promise<{ sessions: number; tokens: number }> {
  return platformDb().transaction(async (trx) => {
    const sessions = await trx.rawQuery(
      `delete from public.auth_sessions where expires_at <= now() or revoked_at is not null`
    )
    const tokens = await trx.rawQuery(`delete from public.refresh_tokens where expires_at <= now()`)
    return { sessions: sessions.rowCount ?? 0, tokens: tokens.rowCount ?? 0 }
  })
}
