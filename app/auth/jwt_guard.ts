import type { HttpContext } from '@adonisjs/core/http'
import { symbols, errors } from '@adonisjs/auth'
import type { AuthClientResponse, GuardContract } from '@adonisjs/auth/types'
import { type Role, signAccessToken, verifyAccessToken } from '#auth/jwt'

/**
 * The authenticated caller as the access token names it. The tenant
 * middleware confirms the user, the login session and the tenant against
 * the database in the same round trip that opens the tenant transaction,
 * and refreshes `role` from it.
 */
export interface AuthPrincipal {
  id: number
  tenantId: number
  role: Role
  sessionId: string
}

/**
 * A stateless guard for `@adonisjs/auth`: verifies the bearer JWT (pinned
 * algorithm, issuer, audience, expiry, token type). A refused token is a
 * 401 whatever the reason, so nothing tells an attacker which check failed.
 */
export class JwtGuard implements GuardContract<AuthPrincipal> {
  declare [symbols.GUARD_KNOWN_EVENTS]: {}

  readonly driverName = 'jwt' as const
  authenticationAttempted = false
  isAuthenticated = false
  user?: AuthPrincipal

  constructor(protected ctx: HttpContext) {}

  getUserOrFail(): AuthPrincipal {
    if (!this.user) {
      throw new errors.E_UNAUTHORIZED_ACCESS('Unauthorized access', { guardDriverName: 'jwt' })
    }
    return this.user
  }

  async authenticate(): Promise<AuthPrincipal> {
    if (this.authenticationAttempted) return this.getUserOrFail()
    this.authenticationAttempted = true

    const header = this.ctx.request.header('authorization') ?? ''
    const [scheme, token] = header.split(' ')
    const claims =
      scheme?.toLowerCase() === 'bearer' && token ? await verifyAccessToken(token) : null
    if (!claims) {
      throw new errors.E_UNAUTHORIZED_ACCESS('Invalid or expired access token', {
        guardDriverName: 'jwt',
      })
    }

    this.user = {
      id: Number(claims.sub),
      tenantId: claims.tenant_id,
      role: claims.role,
      sessionId: claims.sid,
    }
    this.isAuthenticated = true
    return this.user
  }

  async check(): Promise<boolean> {
    try {
      await this.authenticate()
      return true
    } catch (error) {
      if (error instanceof errors.E_UNAUTHORIZED_ACCESS) return false
      throw error
    }
  }

  /**
   * Lets Japa's `loginAs(principal)` send a real token.
   */
  async authenticateAsClient(user: AuthPrincipal): Promise<AuthClientResponse> {
    const token = await signAccessToken({
      userId: user.id,
      tenantId: user.tenantId,
      role: user.role,
      sessionId: user.sessionId,
    })
    return { headers: { authorization: `Bearer ${token}` } }
  }
}
