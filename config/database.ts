import pg from 'pg'
import env from '#start/env'
import { defineConfig } from '@adonisjs/lucid'
import { acceptsMoreTenants } from '#tenancy/connection_cap'

/**
 * Ids are BIGINT in the database and integers in the API. Every id stays far
 * below 2^53, so int8 values are parsed as numbers (counts too).
 */
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))

const lifetimeMs = env.get('DB_CONNECTION_LIFETIME_MS', 300_000)

const recycling = {
  maxConnectionLifetimeMillis: lifetimeMs,
  maxConnectionLifetimeJitterMillis: Math.round(lifetimeMs / 4),
}

/**
 * The test run uses its own database, created and migrated by the runner.
 * Decided from NODE_ENV itself: ace commands import this file (through
 * the tenancy modules) before the application has read its environment.
 */
const inTest = env.get('NODE_ENV') === 'test'
export const databaseName = inTest ? `${env.get('DB_DATABASE')}_test` : env.get('DB_DATABASE')

/**
 * Where migrations (and the test run's database preparation) connect: the
 * same PostgreSQL, but directly when the app's pool goes through PgBouncer
 * in transaction mode (migrations take session-level advisory locks).
 * Defaults to DB_HOST/DB_PORT.
 */
export const directConnection = {
  host: env.get('DB_MIGRATION_HOST') ?? env.get('DB_HOST'),
  port: env.get('DB_MIGRATION_PORT') ?? env.get('DB_PORT'),
}

/**
 * The connections (docs/design/isolation.md):
 * - `app`, the default: the runtime role, for tenant transactions of
 *   requests and jobs. It reaches a tenant's rows only inside a
 *   transaction entered for that tenant.
 * - `platform`: the owner role (`DB_USER`), for provisioning, tenant
 *   migrations, operator commands and the few paths that span tenants
 *   (login lookup, sign-up checks, session rotation, the sweeper).
 * - `migrations`: the owner role on the direct address, for the platform
 *   migrations (`migration:run --connection=migrations`), which take
 *   session-level advisory locks that PgBouncer's transaction mode breaks.
 */
export const APP_CONNECTION = 'app'
export const PLATFORM_CONNECTION = 'platform'

/**
 * The runtime role's name and password. The default name is derived from
 * the database, so several databases on one server (tests, bench, staging)
 * never share a runtime role; the default password is the owner's. The
 * test run always derives its own name, so tearing it down never drops a
 * role another database uses.
 */
const derivedRuntimeUser = `${databaseName}_runtime`
export const runtimeRole = {
  user: inTest ? derivedRuntimeUser : env.get('DB_RUNTIME_USER', derivedRuntimeUser),
  password: env.get('DB_RUNTIME_PASSWORD', env.get('DB_PASSWORD') ?? ''),
}

/**
 * Limits of a tenant transaction, set transaction-locally in its entry
 * round trip; jobs get longer ones. Idle-in-transaction is a setting of
 * the runtime role in this database (applied by `tenants:migrate`).
 */
export const transactionLimits = {
  request: {
    statementTimeoutMs: env.get('DB_STATEMENT_TIMEOUT_MS', 5_000),
    lockTimeoutMs: env.get('DB_LOCK_TIMEOUT_MS', 2_000),
  },
  job: {
    statementTimeoutMs: env.get('JOB_STATEMENT_TIMEOUT_MS', 30_000),
    lockTimeoutMs: env.get('JOB_LOCK_TIMEOUT_MS', 10_000),
  },
  idleInTransactionMs: env.get('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 15_000),
}

const poolMax = Math.max(1, env.get('DB_POOL_MAX', 10))

/**
 * How long a transaction may wait for a connection of the runtime pool
 * before it fails (503): knex's default, set explicitly because the slice
 * scheduler (app/tenancy/pool_slices.ts) queues with the same limit.
 */
export const acquireTimeoutMs = 60_000

/**
 * The runtime pool is split into tenant-affine slices
 * (docs/design/pool_slices.md): `DB_POOL_SLICES` Lucid connections
 * (`app`, then `app_1` … `app_<N-1>`) of one configuration whose sizes add
 * up to `DB_POOL_MAX`, so the server sees no more connections than with
 * one pool. A tenant's transactions go to its home slice, so each backend
 * caches the catalog entries of about 1/N of the tenants; a transaction
 * whose home slice is full borrows from another slice with a free
 * connection (a single busy tenant still gets the whole pool). Default:
 * slices of 2 connections. 1 turns slicing off. Through PgBouncer in
 * transaction mode the affinity does nothing (PgBouncer picks the server
 * connection per transaction) and costs nothing.
 */
const sliceCount = Math.min(
  poolMax,
  Math.max(1, Math.floor(env.get('DB_POOL_SLICES', Math.floor(poolMax / 2))))
)

export interface RuntimeSlice {
  /** the Lucid connection name */
  connection: string
  /** its pool size (the tenant slices' added up: DB_POOL_MAX) */
  max: number
  /** the kind of work the connections are kept for (a lane), none for a tenant slice */
  lane?: string
}

export const runtimeSlices: RuntimeSlice[] = Array.from({ length: sliceCount }, (_, index) => ({
  connection: index === 0 ? APP_CONNECTION : `${APP_CONNECTION}_${index}`,
  max: Math.floor(poolMax / sliceCount) + (index < poolMax % sliceCount ? 1 : 0),
}))

/**
 * The lane of webhook deliveries (docs/design/pool_slices.md): a worker
 * process keeps `WEBHOOK_DB_POOL_MAX` connections of the runtime pool
 * (default 4) for the two short transactions of each delivery (its read,
 * its outcome), beside the DB_POOL_MAX of the tenant slices, so the
 * confirmations' longer transactions can never hold every connection a
 * delivery waits for. A bulkhead: deliveries use these connections only
 * (their reads and outcomes, combined per tenant, queue for them), and
 * never the tenant slices', so they add no more than this to the server's
 * concurrency either. Opened only when used (an API process never opens
 * them): a worker may hold up to DB_POOL_MAX + WEBHOOK_DB_POOL_MAX
 * connections. 0 turns the lane off (deliveries then share the tenant
 * slices).
 */
export const WEBHOOK_LANE = 'webhooks'
const webhookLaneMax = Math.max(0, Math.floor(env.get('WEBHOOK_DB_POOL_MAX', 4)))

export const laneSlices: RuntimeSlice[] =
  webhookLaneMax > 0
    ? [{ connection: `${APP_CONNECTION}_${WEBHOOK_LANE}`, max: webhookLaneMax, lane: WEBHOOK_LANE }]
    : []

/**
 * A pooled connection of the runtime pool is retired (its backend exits,
 * a new one replaces it) once it has served this many distinct tenants:
 * PostgreSQL caches ~50 KiB of catalog entries per tenant schema in each
 * backend, so this bounds a backend to about 4 MiB + 100 × 50 KiB ≈ 9 MiB
 * whatever the tenant count, at the cost of one reconnect per 100 distinct
 * tenants a connection serves (app/tenancy/connection_cap.ts,
 * docs/design/pool_slices.md). 0 turns it off. Through PgBouncer in
 * transaction mode it retires client connections to PgBouncer only
 * (cheap, harmless, and no help: PgBouncer's server_lifetime bounds the
 * backends there).
 */
export const maxTenantsPerConnection = Math.max(
  0,
  Math.floor(env.get('DB_CONNECTION_MAX_TENANTS', 100))
)

/**
 * The runtime pool serves every tenant: the tenant is chosen per
 * transaction (see app/tenancy/context.ts), never per connection; the
 * slice only decides which backends serve it.
 *
 * A pooled connection is recycled after a bounded, jittered lifetime, and
 * after `maxTenantsPerConnection` distinct tenants: PostgreSQL caches
 * catalog entries per backend, and a backend that has visited thousands
 * of schemas would otherwise grow without bound.
 */
function runtimeConnection(max: number) {
  return {
    client: 'pg' as const,
    connection: {
      host: env.get('DB_HOST'),
      port: env.get('DB_PORT'),
      user: runtimeRole.user,
      password: runtimeRole.password,
      database: databaseName,
    },
    pool: {
      min: 0,
      max,
      idleTimeoutMillis: 30_000,
      acquireTimeoutMillis: acquireTimeoutMs,
      ...recycling,
      // run by the pool on every acquire of a free connection
      validate: acceptsMoreTenants(maxTenantsPerConnection),
    },
    /**
     * Platform models are written by hand and tenant data is read as plain
     * rows: no generated schema classes.
     */
    schemaGeneration: { enabled: false },
  }
}

const dbConfig = defineConfig({
  connection: APP_CONNECTION,
  prettyPrintDebugQueries: false,
  connections: {
    ...Object.fromEntries(
      [...runtimeSlices, ...laneSlices].map((slice) => [
        slice.connection,
        runtimeConnection(slice.max),
      ])
    ),
    [PLATFORM_CONNECTION]: {
      client: 'pg',
      connection: {
        host: env.get('DB_HOST'),
        port: env.get('DB_PORT'),
        user: env.get('DB_USER'),
        password: env.get('DB_PASSWORD'),
        database: databaseName,
      },
      pool: {
        min: 0,
        max: poolMax,
        idleTimeoutMillis: 30_000,
        ...recycling,
      },
      migrations: {
        naturalSort: true,
        paths: ['database/migrations'],
      },
      schemaGeneration: { enabled: false },
    },
    /**
     * The direct connection for migrations (`node ace migration:run
     * --connection=migrations`), never for requests.
     */
    migrations: {
      client: 'pg',
      connection: {
        ...directConnection,
        user: env.get('DB_USER'),
        password: env.get('DB_PASSWORD'),
        database: databaseName,
      },
      pool: { min: 0, max: 2 },
      migrations: {
        naturalSort: true,
        paths: ['database/migrations'],
      },
      schemaGeneration: { enabled: false },
    },
  },
})

export default dbConfig
