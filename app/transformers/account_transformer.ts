import { BaseTransformer } from '@adonisjs/core/transformers'
import type { AccountRow } from '#models/user'

/**
 * The contract's `user` (`{id, username, email, role}`), as the auth
 * endpoints answer it.
 */
export default class AccountTransformer extends BaseTransformer<AccountRow> {
  toObject() {
    return this.pick(this.resource, ['id', 'username', 'email', 'role'])
  }
}
