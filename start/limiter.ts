/*
|--------------------------------------------------------------------------
| Throttle middleware
|--------------------------------------------------------------------------
|
| Route throttles defined with `limiter.define`. The login limit is not
| one of them: it reserves an attempt before the password is hashed and
| gives it back unless the credentials were wrong (throttleLogin), which
| a request counter cannot do. The per-user and per-tenant API limits run
| in the `auth` middleware, so no authenticated route can miss them.
|
*/

import limiter from '@adonisjs/limiter/services/main'
import { rateLimits } from '#auth/rate_limits'

/**
 * Sign-ups (either register endpoint) per client IP: RATE_LIMIT_REGISTER
 * per hour. Every attempt counts, valid or not, so the endpoints cannot
 * be used to probe for taken names at will either.
 */
export const signUpThrottle = limiter.define('register', (ctx) => {
  if (rateLimits.register <= 0) return limiter.noLimit()
  return limiter
    .allowRequests(rateLimits.register)
    .every(rateLimits.registerWindow)
    .usingKey(`ip_${ctx.request.ip()}`)
})
