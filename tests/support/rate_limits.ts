import redis from '@adonisjs/redis/services/main'

/**
 * Forgets the counters of the per-user, per-tenant and account-lookup
 * limits in this run's Redis DB (SCAN and DEL of their keys only). Their
 * keys are made of user and tenant ids, which every run hands out again
 * from 1, so counters of an earlier run would otherwise count against this
 * one. The login and sign-up limits need no reset: tests give them fresh
 * usernames and client IPs.
 */
export async function forgetRateLimits() {
  const connection = redis.connection()
  for (const pattern of ['rlflx:api_*', 'rlflx:accounts_*']) {
    let cursor = '0'
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await connection.del(...keys)
    } while (cursor !== '0')
  }
}
