import { BaseTransformer } from '@adonisjs/core/transformers'
import type { UserRow } from '#models/user'

/**
 * A user as the users endpoints answer it: the contract's four fields,
 * whether the account is active, and its timestamps.
 */
export default class UserTransformer extends BaseTransformer<UserRow> {
  toObject() {
    const row = this.resource
    return {
      id: row.id,
      username: row.username,
      email: row.email,
      role: row.role,
      is_active: row.is_active,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    }
  }
}
