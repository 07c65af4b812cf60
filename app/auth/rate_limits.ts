import env from '#start/env'
import limiter from '@adonisjs/limiter/services/main'
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
