import pg from 'pg'
import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig } from '@adonisjs/lucid'

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
 */
export const databaseName = app.inTest ? `${env.get('DB_DATABASE')}_test` : env.get('DB_DATABASE')

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
 * One shared pool serves every tenant: the tenant is chosen per transaction
 * (see app/tenancy/context.ts), never per connection.
 *
 * A pooled connection is recycled after a bounded, jittered lifetime:
 * PostgreSQL caches catalog entries per backend, and a backend that has
 * visited thousands of schemas would otherwise grow without bound.
 */
const dbConfig = defineConfig({
  connection: 'postgres',
  prettyPrintDebugQueries: false,
  connections: {
    postgres: {
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
        max: env.get('DB_POOL_MAX', 10),
        idleTimeoutMillis: 30_000,
        ...recycling,
      },
      migrations: {
        naturalSort: true,
        paths: ['database/migrations'],
      },
      /**
       * Platform models are written by hand and tenant data is read as plain
       * rows: no generated schema classes.
       */
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
