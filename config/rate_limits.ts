import env from '#start/env'

/**
 * Rate limits, read once from the environment (`0` switches a limit off).
 * Mutable so that tests can lower a limit for one test and restore it
 * afterwards. Enforced by app/auth/rate_limits.ts.
 */
const rateLimitsConfig = {
  /** Authenticated requests allowed per user in `apiWindow`. */
  apiUser: env.get('RATE_LIMIT_API_USER', 1200),
  /** Authenticated requests allowed per tenant (all its users) in `apiWindow`. */
  apiTenant: env.get('RATE_LIMIT_API_TENANT', 6000),
  apiWindow: '1 minute',
  /**
   * Requests that tell whether a username or email exists anywhere on the
   * platform (creating a user, changing a user's email), per tenant in
   * `userAccountsWindow`.
   */
  userAccounts: env.get('RATE_LIMIT_USER_ACCOUNTS', 100),
  userAccountsWindow: '1 hour',
  /** Failed logins allowed per username and per IP in `loginWindow`. */
  login: env.get('RATE_LIMIT_LOGIN', 10),
  loginWindow: '15 mins',
  /** Sign-ups (either register endpoint) allowed per IP in `registerWindow`. */
  register: env.get('RATE_LIMIT_REGISTER', 20),
  registerWindow: '1 hour',
}

export default rateLimitsConfig
