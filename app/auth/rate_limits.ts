import env from '#start/env'
import limiter from '@adonisjs/limiter/services/main'
import { errors as limiterErrors } from '@adonisjs/limiter'
import { InvalidCredentialsException } from '#exceptions/auth'

/**
 * Rate limits of the auth endpoints, read once from the environment.
 * `0` switches a limit off. Mutable so that tests can lower a limit for
 * one test and restore it afterwards.
 */
export const rateLimits = {
  /** Failed logins allowed per username and per IP in `loginWindow`. */
  login: env.get('RATE_LIMIT_LOGIN', 10),
  loginWindow: '15 mins',
  /** Sign-ups (either register endpoint) allowed per IP in `registerWindow`. */
  register: env.get('RATE_LIMIT_REGISTER', 20),
  registerWindow: '1 hour',
}

/**
 * Counts a sign-up attempt of the client's IP; throws E_TOO_MANY_REQUESTS
 * (429 with Retry-After) once the IP has used up its allowance. Every
 * attempt counts, so the endpoint cannot be used to probe for taken names
 * at will either.
 */
export async function throttleSignUp(ip: string) {
  if (rateLimits.register <= 0) return
  await limiter
    .use({ requests: rateLimits.register, duration: rateLimits.registerWindow })
    .consume(`register_ip_${ip}`)
}

/**
 * Runs a login attempt under the failed-login limits: refused outright
 * (429) while the username or the IP has used up its allowance; a
 * refusal of the credentials (InvalidCredentialsException) counts against both; a success clears the
 * username's counter (not the IP's: a client with one valid account must
 * not be able to reset its guessing budget for others).
 */
export async function throttleLogin<T>(username: string, ip: string, attempt: () => Promise<T>) {
  if (rateLimits.login <= 0) return attempt()

  const store = limiter.use({ requests: rateLimits.login, duration: rateLimits.loginWindow })
  const keys = [`login_user_${username.toLowerCase()}`, `login_ip_${ip}`]

  const counters = await Promise.all(keys.map((key) => store.get(key)))
  const exhausted = counters.find((counter) => counter && counter.remaining <= 0)
  if (exhausted) throw new limiterErrors.E_TOO_MANY_REQUESTS(exhausted)

  try {
    const result = await attempt()
    await store.delete(keys[0])
    return result
  } catch (error) {
    if (error instanceof InvalidCredentialsException) {
      await Promise.all(keys.map((key) => store.increment(key)))
    }
    throw error
  }
}
