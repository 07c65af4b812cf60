import vine from '@vinejs/vine'
import { email, password, storeName, username } from '#validators/auth'

/**
 * A tenant created by an operator (`tenants:create`): the store's name
 * and its owner's credentials, under the same rules as sign-up, so the
 * owner can always log in with the name given here.
 */
export const createTenantValidator = vine.create({
  name: storeName(),
  username: username(),
  email: email(),
  password: password(),
})
