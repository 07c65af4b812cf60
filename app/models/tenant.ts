import { DateTime } from 'luxon'
import { BaseModel, column } from '@adonisjs/lucid/orm'

/**
 * A tenant (store). Platform table in `public`; its commerce data lives in
 * its own schema, `schema_name`, derived from the id by the database.
 */
export default class Tenant extends BaseModel {
  static table = 'public.tenants'

  @column({ isPrimary: true })
  declare id: number

  @column()
  declare name: string

  @column()
  declare slug: string

  @column({ columnName: 'schema_name' })
  declare schemaName: string

  @column()
  declare status: 'active' | 'suspended'

  @column({ columnName: 'migration_version' })
  declare migrationVersion: string | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime
}
