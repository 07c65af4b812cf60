import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The project root (this file is bench/lib/env.ts).
 */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Reads KEY=VALUE lines of a dotenv file (comments and blank lines skipped,
 * surrounding quotes removed). Enough for the project's own .env.
 */
export function readDotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {}
  const values: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line)
    if (!match) continue
    let value = match[2].trim()
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1)
    values[match[1]] = value
  }
  return values
}

/**
 * The settings the harness starts from: the project's .env (or, on a fresh
 * clone without one, the defaults of .env.example, as `npm run dev` does)
 * overridden by the environment of `npm run bench`.
 */
const KEYS = [
  'DB_HOST',
  'DB_PORT',
  'DB_USER',
  'DB_PASSWORD',
  'DB_DATABASE',
  'DB_CONNECTION_LIFETIME_MS',
  'DB_POOL_SLICES',
  'DB_CONNECTION_MAX_TENANTS',
  'WEBHOOK_DB_POOL_MAX',
  'WEBHOOK_CONCURRENCY',
  'WEBHOOK_STEADY_CONCURRENCY',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'JWT_REFRESH_TTL',
  'WORKER_CONCURRENCY',
  'SWEEP_INTERVAL_MS',
  'SWEEP_AGE_MS',
  'BENCH_REDIS_DB',
  'BENCH_DB_POOL_MAX',
  'BENCH_PARALLEL',
]

export function dotEnvFile(root = ROOT): string {
  const local = join(root, '.env')
  return existsSync(local) ? local : join(root, '.env.example')
}

export function baseSettings(): Record<string, string> {
  const merged = readDotEnv(dotEnvFile())
  for (const key of KEYS) {
    if (process.env[key] !== undefined) merged[key] = process.env[key] as string
  }
  return merged
}

export interface BenchEnv {
  /** settings shared by every process the harness starts */
  common: Record<string, string>
  database: string
  redisDb: number
  poolMax: number
  /** connections used by the harness's own parallel SQL runners */
  parallel: number
}

/**
 * An empty directory used as ENV_PATH: the children read their settings
 * from the environment alone, never from a .env file.
 */
let emptyEnvDir: string | undefined
function noDotEnvDir() {
  emptyEnvDir ??= mkdtempSync(join(tmpdir(), 'bench-env-'))
  return emptyEnvDir
}

/**
 * Production mode refuses the secrets published in the repository: every
 * run makes its own, shared by every process it starts.
 */
const RUN_SECRETS = {
  appKey: randomBytes(32).toString('base64url'),
  jwtSecret: randomBytes(32).toString('base64url'),
}

export function benchEnv(): BenchEnv {
  const base = baseSettings()
  const required = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_DATABASE', 'REDIS_HOST', 'REDIS_PORT']
  for (const key of required) {
    if (!base[key]) throw new Error(`${key} is not set (.env or environment)`)
  }
  for (const key of ['DB_HOST', 'REDIS_HOST']) {
    if (!['127.0.0.1', 'localhost', '::1'].includes(base[key])) {
      throw new Error(`${key}=${base[key]}: the benchmark runs against loopback services only`)
    }
  }
  const database = `${base.DB_DATABASE}_bench`
  const redisDb = Number(base.BENCH_REDIS_DB ?? 15)
  const poolMax = Number(base.BENCH_DB_POOL_MAX ?? 10)
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ENV_PATH: noDotEnvDir(),
    TZ: 'UTC',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    APP_KEY: RUN_SECRETS.appKey,
    DB_HOST: base.DB_HOST,
    DB_PORT: base.DB_PORT,
    DB_USER: base.DB_USER,
    DB_PASSWORD: base.DB_PASSWORD ?? '',
    DB_DATABASE: database,
    DB_POOL_MAX: String(poolMax),
    DB_CONNECTION_LIFETIME_MS: base.DB_CONNECTION_LIFETIME_MS ?? '300000',
    // e.g. DB_POOL_SLICES=1 to measure the runtime pool without its tenant-affine slices
    ...(base.DB_POOL_SLICES && { DB_POOL_SLICES: base.DB_POOL_SLICES }),
    // e.g. DB_CONNECTION_MAX_TENANTS=0 to measure the pool without its per-connection tenant cap
    ...(base.DB_CONNECTION_MAX_TENANTS && {
      DB_CONNECTION_MAX_TENANTS: base.DB_CONNECTION_MAX_TENANTS,
    }),
    // e.g. WEBHOOK_DB_POOL_MAX=0 to measure deliveries without their lane of the pool
    ...(base.WEBHOOK_DB_POOL_MAX && { WEBHOOK_DB_POOL_MAX: base.WEBHOOK_DB_POOL_MAX }),
    // e.g. WEBHOOK_CONCURRENCY=64 to measure deliveries with fewer in flight per tenant
    ...(base.WEBHOOK_CONCURRENCY && { WEBHOOK_CONCURRENCY: base.WEBHOOK_CONCURRENCY }),
    // e.g. WEBHOOK_STEADY_CONCURRENCY=128 to measure without the lower concurrency while deliveries keep up
    ...(base.WEBHOOK_STEADY_CONCURRENCY && {
      WEBHOOK_STEADY_CONCURRENCY: base.WEBHOOK_STEADY_CONCURRENCY,
    }),
    REDIS_HOST: base.REDIS_HOST,
    REDIS_PORT: base.REDIS_PORT,
    REDIS_PASSWORD: base.REDIS_PASSWORD ?? '',
    REDIS_DB: String(redisDb),
    JWT_SECRET: RUN_SECRETS.jwtSecret,
    JWT_ISSUER: base.JWT_ISSUER ?? 'tenant-commerce',
    JWT_AUDIENCE: base.JWT_AUDIENCE ?? 'tenant-commerce-api',
    JWT_ACCESS_TTL: '2h',
    JWT_REFRESH_TTL: base.JWT_REFRESH_TTL ?? '7d',
    RATE_LIMIT_LOGIN: '0',
    RATE_LIMIT_REGISTER: '0',
    RATE_LIMIT_API_USER: '0',
    RATE_LIMIT_API_TENANT: '0',
    RATE_LIMIT_USER_ACCOUNTS: '0',
    WORKER_CONCURRENCY: base.WORKER_CONCURRENCY ?? '8',
    QUEUE_PREFIX: 'bench',
    SWEEP_INTERVAL_MS: base.SWEEP_INTERVAL_MS ?? '10000',
    SWEEP_AGE_MS: base.SWEEP_AGE_MS ?? '30000',
    // The webhooks scenario delivers to receivers on loopback.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    // e.g. BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=tmp/profiles" to profile the API and worker
    ...(process.env.BENCH_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }),
  }
  return { common, database, redisDb, poolMax, parallel: Number(base.BENCH_PARALLEL ?? 4) }
}
