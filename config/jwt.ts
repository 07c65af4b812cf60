import env from '#start/env'

/**
 * Token settings. Access tokens are HS256 JWTs signed with JWT_SECRET (at
 * least 32 bytes, checked at boot by start/env.ts); the algorithm is pinned on verification, so `alg: none`
 * and algorithm confusion are refused. Refresh tokens are opaque random
 * values stored only as hashes.
 */
const jwtConfig = {
  secret: env.get('JWT_SECRET').release(),
  algorithm: 'HS256' as const,
  issuer: env.get('JWT_ISSUER', 'tenant-commerce'),
  audience: env.get('JWT_AUDIENCE', 'tenant-commerce-api'),
  accessTtl: env.get('JWT_ACCESS_TTL', '15m'),
  refreshTtl: env.get('JWT_REFRESH_TTL', '7d'),
  /**
   * Absolute lifetime of a login session: refreshing slides its expiry by
   * `refreshTtl`, but never past `sessionMaxAge` after the login.
   */
  sessionMaxAge: env.get('JWT_SESSION_MAX_AGE', '30d'),
  clockToleranceSeconds: 5,
}

export default jwtConfig
