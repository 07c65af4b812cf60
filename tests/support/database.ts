import pg from 'pg'
import env from '#start/env'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'
import { databaseName } from '#config/database'

/**
 * Drops and creates the test database, then applies the platform
 * migrations. Connects to the `postgres` maintenance database for the
 * first part, before the application's pool opens.
 */
export async function prepareTestDatabase() {
  const client = new pg.Client({
    host: env.get('DB_HOST'),
    port: env.get('DB_PORT'),
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

  const migrator = new MigrationRunner(db, app, { direction: 'up' })
  await migrator.run()
  if (migrator.error) throw migrator.error
}
