/*
|--------------------------------------------------------------------------
| Environment variables
|--------------------------------------------------------------------------
|
| Every variable the process reads is declared and validated here at boot.
| A missing or malformed one stops the process with a line naming it. In
| production the process runs from the environment alone; a ".env" file is
| optional everywhere.
|
*/

import { existsSync } from 'node:fs'
import { Env } from '@adonisjs/core/env'

const APP_ROOT = new URL('../', import.meta.url)

/**
 * A production build in ./build has no .env of its own: when started from a
 * checkout (npm run build && npm start), it reads the project's .env.
 */
if (!process.env.ENV_PATH && !existsSync(new URL('.env', APP_ROOT))) {
  if (existsSync(new URL('../.env', APP_ROOT))) process.env.ENV_PATH = '../'
}

const limit = () => Env.schema.number.optional()

export default await Env.create(APP_ROOT, {
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
  DB_CONNECTION_LIFETIME_MS: Env.schema.number.optional(),

  /*
  | Redis: queue, rate limiter
  */
  REDIS_HOST: Env.schema.string({ format: 'host' }),
  REDIS_PORT: Env.schema.number(),
  REDIS_PASSWORD: Env.schema.string.optional(),
  REDIS_DB: Env.schema.number.optional(),

  /*
  | Tokens
  */
  JWT_SECRET: Env.schema.secret(),
  JWT_ISSUER: Env.schema.string.optional(),
  JWT_AUDIENCE: Env.schema.string.optional(),
  JWT_ACCESS_TTL: Env.schema.string.optional(),
  JWT_REFRESH_TTL: Env.schema.string.optional(),

  /*
  | Rate limits (0 switches a limit off)
  */
  RATE_LIMIT_LOGIN: limit(),
  RATE_LIMIT_REGISTER: limit(),

  /*
  | Workers
  */
  WORKER_CONCURRENCY: Env.schema.number.optional(),
  QUEUE_PREFIX: Env.schema.string.optional(),
  SWEEP_INTERVAL_MS: Env.schema.number.optional(),
  SWEEP_AGE_MS: Env.schema.number.optional(),

  /*
  | Pool of ready tenant schemas (0 = off) and how often the worker refills it
  */
  TENANT_POOL_SIZE: Env.schema.number.optional(),
  TENANT_POOL_INTERVAL_MS: Env.schema.number.optional(),
})
