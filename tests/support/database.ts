import pg from 'pg'
import env from '#start/env'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'
import { databaseName, directConnection } from '#config/database'

/**
 * Drops and creates the test database, then applies the platform
 * migrations. Connects to the `postgres` maintenance database for the
 * first part, before the application's pool opens. Both go to PostgreSQL
 * directly (DB_MIGRATION_HOST/PORT), even when the app's pool goes through
 * PgBouncer.
 */
export async function prepareTestDatabase() {
  const client = new pg.Client({
    ...directConnection,
    user: env.get('DB_USER'),
    password: env.get('DB_PASSWORD'),
    database: 'postgres',
  })
  await client.connect()
  try {
    await client.query(`drop database if exists "${databaseName}" with (force)`)
    await client.query(`create database "${databaseName}"`)
  } finally {
    await client.end()
  }

  const migrator = new MigrationRunner(db, app, { direction: 'up', connectionName: 'migrations' })
  await migrator.run()
  await db.manager.close('migrations')
  if (migrator.error) throw migrator.error
}
