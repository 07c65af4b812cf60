import rateLimitsConfig from '#config/rate_limits'
import logger from '@adonisjs/core/services/logger'
import limiter from '@adonisjs/limiter/services/main'
import { errors as limiterErrors } from '@adonisjs/limiter'
import { InvalidCredentialsException } from '#exceptions/auth'
import type { AuthPrincipal } from '#auth/jwt_guard'

/**
 * Every limiter operation touches one Redis key (rate-limiter-flexible
 * runs one single-key script per call), so each works on Redis Cluster
 * whatever slot its key hashes to. The keys carry no `{…}` hash tag of
 * ours, so they spread over the cluster's slots instead of piling onto
 * one node (a brace in a login name typed by a client only moves that one
 * key to another slot). The limits themselves are config/rate_limits.ts.
 */
export const rateLimits = rateLimitsConfig

/**
 * Counts an authenticated request against its user's and then its
 * tenant's allowance; throws E_TOO_MANY_REQUESTS (429 with Retry-After)
 * once either is used up. A request refused for its user does not count
 * against the tenant, so one user cannot spend the whole store's budget
 * with requests that are refused anyway.
 *
 * Runs before the tenant transaction opens: a refused request never takes
 * a pooled connection. When Redis does not answer, the request goes
 * through (logged): these limits share the API fairly, they do not guard
 * secrets, and a Redis outage must not turn into an API outage (orders
 * are still taken into the outbox then).
 */
export async function throttleApi(principal: AuthPrincipal): Promise<void> {
  const budgets: [number, string][] = [
    [rateLimits.apiUser, `api_user_${principal.id}`],
    [rateLimits.apiTenant, `api_tenant_${principal.tenantId}`],
  ]
  for (const [requests, key] of budgets) {
    if (requests <= 0) continue
    await consumeOrPass(requests, rateLimits.apiWindow, key)
  }
}

/**
 * Counts a request that can tell whether a username or email exists on
 * the platform against its tenant's allowance (429 once used up).
 */
export async function throttleUserAccounts(tenantId: number): Promise<void> {
  if (rateLimits.userAccounts <= 0) return
  await limiter
    .use({ requests: rateLimits.userAccounts, duration: rateLimits.userAccountsWindow })
    .consume(`accounts_tenant_${tenantId}`)
}

async function consumeOrPass(requests: number, duration: string, key: string) {
  try {
    await limiter.use('api', { requests, duration }).consume(key)
  } catch (error) {
    if (error instanceof limiterErrors.E_TOO_MANY_REQUESTS) throw error
    logger.warn({ err: error, key }, 'rate limiter unavailable; request let through')
  }
}

/**
 * Runs a login attempt under the failed-login limits: refused outright
 * (429) while the username or the IP has used up its allowance.
 *
 * The attempt is reserved on both counters before the password is checked
 * (`consume` is atomic), so a burst of parallel guesses cannot all pass
 * under the limit while the slow hash runs. Only a refusal of the
 * credentials keeps the reservation; any other outcome gives it back. A
 * success clears the username's counter (not the IP's: a client with one
 * valid account must not be able to reset its guessing budget for others).
 */
export async function throttleLogin<T>(username: string, ip: string, attempt: () => Promise<T>) {
  if (rateLimits.login <= 0) return attempt()

  const store = limiter.use({ requests: rateLimits.login, duration: rateLimits.loginWindow })
  const [userKey, ipKey] = [`login_user_${username.toLowerCase()}`, `login_ip_${ip}`]

  const reserved: string[] = []
  try {
    for (const key of [userKey, ipKey]) {
      await store.consume(key)
      reserved.push(key)
    }
  } catch (error) {
    await Promise.all(reserved.map((key) => store.decrement(key)))
    throw error
  }

  try {
    const result = await attempt()
    await Promise.all([store.delete(userKey), store.decrement(ipKey)])
    return result
  } catch (error) {
    if (!(error instanceof InvalidCredentialsException)) {
      await Promise.all(reserved.map((key) => store.decrement(key)))
    }
    throw error
  }
}
