import pg from 'pg'
import env from '#start/env'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'
import { databaseName, directConnection } from '#config/database'
import { dropRuntimeRoleSql, ensureRuntimeRole } from '#tenancy/runtime_role'
import { platformDb } from '#tenancy/platform'

/**
 * The `postgres` maintenance database, as the owner role, before or after
 * the application's pools; directly (DB_MIGRATION_HOST/PORT), even when the
 * app's pool goes through PgBouncer.
 */
async function withMaintenance(fn: (client: pg.Client) => Promise<void>) {
  const client = new pg.Client({
    ...directConnection,
    user: env.get('DB_USER'),
    password: env.get('DB_PASSWORD'),
    database: 'postgres',
  })
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

/**
 * Drops and creates the test database (and the runtime role a previous
 * run may have left), then applies the platform migrations as the owner
 * role on the direct connection, and creates the runtime role the
 * application's pool logs in as.
 */
export async function prepareTestDatabase() {
  await withMaintenance(async (client) => {
    await client.query(`drop database if exists "${databaseName}" with (force)`)
    await client.query(dropRuntimeRoleSql())
    await client.query(`create database "${databaseName}"`)
  })

  const migrator = new MigrationRunner(db, app, { direction: 'up', connectionName: 'migrations' })
  await migrator.run()
  await db.manager.close('migrations')
  if (migrator.error) throw migrator.error
  await ensureRuntimeRole(platformDb())
}

/**
 * After the run: the test database and its runtime role go, so a run
 * leaves no role behind on the server (`select rolname from pg_roles`).
 */
export async function dropTestDatabase() {
  await db.manager.closeAll()
  await withMaintenance(async (client) => {
    await client.query(`drop database if exists "${databaseName}" with (force)`)
    await client.query(dropRuntimeRoleSql())
  })
}
