/*
|--------------------------------------------------------------------------
| Environment variables
|--------------------------------------------------------------------------
|
| Every variable the process reads is declared and validated here at boot.
| A missing or malformed one stops the process with a line naming it. In
| production the process runs from the environment alone; a ".env" file is
| optional everywhere. In development without a ".env", the defaults of
| ".env.example" apply (see applyExampleDefaults).
|
*/

import { existsSync, readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Env, EnvLoader, EnvParser } from '@adonisjs/core/env'
import { assertUsableSecrets } from '#start/secrets'

const APP_ROOT = new URL('../', import.meta.url)

/**
 * A production build in ./build has no .env of its own: when started from a
 * checkout (npm run build && npm start), it reads the project's .env.
 */
if (!process.env.ENV_PATH && !existsSync(new URL('.env', APP_ROOT))) {
  if (existsSync(new URL('../.env', APP_ROOT))) process.env.ENV_PATH = '../'
}

/**
 * Secrets may come from files (Docker or Kubernetes secrets): `<NAME>_FILE`
 * names a file whose content is `<NAME>`, unless `<NAME>` itself is set.
 * docker-compose.yml passes the secrets it generated this way.
 */
for (const name of [
  'APP_KEY',
  'JWT_SECRET',
  'DB_PASSWORD',
  'DB_RUNTIME_PASSWORD',
  'REDIS_PASSWORD',
]) {
  const file = process.env[`${name}_FILE`]
  if (!file || process.env[name] !== undefined) continue
  try {
    process.env[name] = readFileSync(file, 'utf8').trim()
  } catch {
    process.stderr.write(`Invalid environment variable "${name}_FILE": cannot read ${file}\n`)
    process.exit(1)
  }
}

/**
 * A fresh clone runs `npm ci && npm run dev` with no .env: in development
 * (NODE_ENV unset or `development`) and when there is no `.env`, every
 * variable of `.env.example` that neither the environment nor another env
 * file (`.env.local`, `.env.development`, …) sets takes its value from
 * there. Never in production or tests: there a missing variable stops the
 * process. Answers the names it set.
 */
export async function applyExampleDefaults(
  appRoot: URL | string,
  environment: NodeJS.ProcessEnv = process.env
): Promise<string[]> {
  if ((environment.NODE_ENV ?? 'development') !== 'development') return []
  const root = typeof appRoot === 'string' ? pathToFileURL(appRoot) : appRoot
  const files = await new EnvLoader(root, true).load()
  const example = files.find((file) => basename(file.path) === '.env.example')
  const dotEnv = files.find((file) => basename(file.path) === '.env')
  if (!example?.fileExists || dotEnv?.fileExists) return []

  const defined = new Set(Object.keys(environment).filter((key) => environment[key] !== undefined))
  for (const file of files) {
    if (file === example || !file.fileExists) continue
    const values = await new EnvParser(file.contents, root, { ignoreProcessEnv: true }).parse()
    for (const key of Object.keys(values)) {
      defined.add(key)
    }
  }
  const applied: string[] = []
  const defaults = await new EnvParser(example.contents, root, { ignoreProcessEnv: true }).parse()
  for (const [key, value] of Object.entries(defaults)) {
    if (defined.has(key)) continue
    environment[key] = value
    applied.push(key)
  }
  return applied
}

await applyExampleDefaults(APP_ROOT)

const limit = () => Env.schema.number.optional()

const env = await Env.create(APP_ROOT, {
  NODE_ENV: Env.schema.enum(['development', 'production', 'test'] as const),
  HOST: Env.schema.string({ format: 'host' }),
  PORT: Env.schema.number(),
  APP_KEY: Env.schema.secret(),
  TRUST_PROXY: Env.schema.string.optional(),
  LOG_LEVEL: Env.schema.enum([
    'fatal',
    'error',
    'warn',
    'info',
    'debug',
    'trace',
    'silent',
  ] as const),

  /*
  | PostgreSQL: one shared pool for every tenant
  */
  DB_HOST: Env.schema.string({ format: 'host' }),
  DB_PORT: Env.schema.number(),
  DB_USER: Env.schema.string(),
  DB_PASSWORD: Env.schema.string.optional(),
  DB_DATABASE: Env.schema.string(),
  DB_POOL_MAX: Env.schema.number.optional(),
  // Tenant-affine slices of the runtime pool (docs/design/pool_slices.md)
  DB_POOL_SLICES: Env.schema.number.optional(),
  DB_CONNECTION_LIFETIME_MS: Env.schema.number.optional(),
  // Distinct tenants a runtime pool connection serves before it is retired (0 = no cap)
  DB_CONNECTION_MAX_TENANTS: Env.schema.number.optional(),
  // Runtime pool connections a worker keeps for webhook deliveries, beside DB_POOL_MAX (0 = none)
  WEBHOOK_DB_POOL_MAX: Env.schema.number.optional(),
  /*
  | Direct PostgreSQL address for migrations when DB_HOST/DB_PORT is a
  | PgBouncer in transaction mode (default: DB_HOST/DB_PORT)
  */
  DB_MIGRATION_HOST: Env.schema.string.optional({ format: 'host' }),
  DB_MIGRATION_PORT: Env.schema.number.optional(),
  // The runtime role (tenant work) and the limits of a tenant transaction
  DB_RUNTIME_USER: Env.schema.string.optional(),
  DB_RUNTIME_PASSWORD: Env.schema.string.optional(),
  DB_STATEMENT_TIMEOUT_MS: Env.schema.number.optional(),
  DB_LOCK_TIMEOUT_MS: Env.schema.number.optional(),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: Env.schema.number.optional(),
  JOB_STATEMENT_TIMEOUT_MS: Env.schema.number.optional(),
  JOB_LOCK_TIMEOUT_MS: Env.schema.number.optional(),

  /*
  | Redis: queue, rate limiter
  */
  REDIS_HOST: Env.schema.string({ format: 'host' }),
  REDIS_PORT: Env.schema.number(),
  REDIS_PASSWORD: Env.schema.string.optional(),
  REDIS_DB: Env.schema.number.optional(),
  /*
  | Redis Cluster: comma-separated host:port seed nodes; set, it replaces
  | REDIS_HOST/REDIS_PORT/REDIS_DB (a cluster has only database 0)
  */
  REDIS_CLUSTER_NODES: (key: string, value?: string) => {
    if (!value) return undefined
    if (!/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/.test(value.replace(/\s+/g, ''))) {
      throw new Error(`Value for environment variable "${key}" must be a host:port list`)
    }
    return value
  },

  /*
  | Tokens
  */
  JWT_SECRET: Env.schema.secret(),
  JWT_ISSUER: Env.schema.string.optional(),
  JWT_AUDIENCE: Env.schema.string.optional(),
  JWT_ACCESS_TTL: Env.schema.string.optional(),
  JWT_REFRESH_TTL: Env.schema.string.optional(),
  JWT_SESSION_MAX_AGE: Env.schema.string.optional(),

  /*
  | Rate limits (0 switches a limit off)
  */
  RATE_LIMIT_LOGIN: limit(),
  RATE_LIMIT_REGISTER: limit(),
  RATE_LIMIT_API_USER: limit(),
  RATE_LIMIT_API_TENANT: limit(),
  RATE_LIMIT_USER_ACCOUNTS: limit(),

  /*
  | Workers
  */
  WORKER_CONCURRENCY: Env.schema.number.optional(),
  QUEUE_PREFIX: Env.schema.string.optional(),
  SWEEP_INTERVAL_MS: Env.schema.number.optional(),
  SWEEP_AGE_MS: Env.schema.number.optional(),
  SWEEP_MAX_DUTY_PERCENT: Env.schema.number.optional(),

  /*
  | Metrics: the bearer token a scrape must send (unset: open), and the
  | port of a worker's /metrics (unset: not served; 0: any free port)
  */
  METRICS_TOKEN: Env.schema.secret.optional(),
  WORKER_METRICS_PORT: Env.schema.number.optional(),

  /*
  | Tests: a Citus coordinator for the citus suite (postgres://user@host:port/db)
  */
  CITUS_URL: Env.schema.string.optional(),

  /*
  | Webhooks
  */
  WEBHOOK_ALLOW_PRIVATE: Env.schema.boolean.optional(),
  WEBHOOK_BACKOFF_BASE_MS: Env.schema.number.optional(),
  WEBHOOK_BACKOFF_MAX_MS: Env.schema.number.optional(),
  WEBHOOK_RETRY_WINDOW_MS: Env.schema.number.optional(),
  WEBHOOK_CONCURRENCY: Env.schema.number.optional(),
  WEBHOOK_STEADY_CONCURRENCY: Env.schema.number.optional(),
  WEBHOOK_ENDPOINT_CONCURRENCY: Env.schema.number.optional(),
  WEBHOOK_TENANT_CONCURRENCY: Env.schema.number.optional(),

  /*
  | Pool of ready tenant schemas (0 = off) and how often the worker refills it
  */
  TENANT_POOL_SIZE: Env.schema.number.optional(),
  TENANT_POOL_INTERVAL_MS: Env.schema.number.optional(),
})

/**
 * APP_KEY and JWT_SECRET: at least 32 characters, and in production none
 * of the values published in the repository (start/secrets.ts). One line
 * per problem, exit code 1.
 */
assertUsableSecrets(
  { APP_KEY: env.get('APP_KEY').release(), JWT_SECRET: env.get('JWT_SECRET').release() },
  env.get('NODE_ENV')
)

export default env
