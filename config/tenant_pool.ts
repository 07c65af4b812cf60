import env from '#start/env'

/**
 * The pool of ready tenant schemas (app/tenancy/tenant_pool.ts): how many
 * spares the worker keeps built (0 = off: sign-up builds every schema in
 * its own request) and how often it tops the pool up, besides the refill
 * that each sign-up triggers after it commits.
 */
const tenantPoolConfig = {
  size: env.get('TENANT_POOL_SIZE', 0),
  refillIntervalMs: env.get('TENANT_POOL_INTERVAL_MS', 60_000),
}

if (!Number.isSafeInteger(tenantPoolConfig.size) || tenantPoolConfig.size < 0) {
  throw new Error('Invalid environment variable "TENANT_POOL_SIZE": expected an integer ≥ 0')
}
if (
  !Number.isSafeInteger(tenantPoolConfig.refillIntervalMs) ||
  tenantPoolConfig.refillIntervalMs < 1000
) {
  throw new Error(
    'Invalid environment variable "TENANT_POOL_INTERVAL_MS": expected an integer ≥ 1000'
  )
}

export default tenantPoolConfig
