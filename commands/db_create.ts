import { BaseCommand } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { ensureDatabase } from '#database/ensure_database'

/**
 * Creates the application's database (DB_DATABASE) when it is missing;
 * does nothing when it exists. `npm run dev` runs it before the migrations.
 */
export default class DbCreate extends BaseCommand {
  static commandName = 'db:create'
  static description = 'Create the database named by DB_DATABASE when it does not exist'
  static options: CommandOptions = { startApp: true }

  async run() {
    // Imported once the app has booted: ace imports every command file to
    // list them, and the config must see the booted app (its NODE_ENV).
    // The owner role's connection: the runtime role cannot create databases.
    const {
      default: dbConfig,
      databaseName,
      PLATFORM_CONNECTION,
    } = await import('#config/database')
    const { host, port, user, password } = dbConfig.connections[PLATFORM_CONNECTION].connection as {
      host: string
      port: number
      user: string
      password?: string
    }
    try {
      const created = await ensureDatabase({ host, port, user, password }, databaseName)
      if (created) this.logger.success(`Created database ${databaseName}`)
      else this.logger.info(`Database ${databaseName} exists`)
    } catch (error) {
      this.logger.error(`Could not create database ${databaseName}: ${(error as Error).message}`)
      this.exitCode = 1
    }
  }
}
