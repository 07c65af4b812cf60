import vine from '@vinejs/vine'

/**
 * A tenant created by an operator (`tenants:create`): the store's name
 * and its owner's credentials.
 */
export const createTenantValidator = vine.create({
  name: vine.string().trim().minLength(1).maxLength(200),
  username: vine
    .string()
    .trim()
    .minLength(3)
    .maxLength(150)
    .regex(/^[A-Za-z0-9_.@+-]+$/),
  email: vine.string().trim().email().maxLength(254),
  password: vine.string().minLength(8).maxLength(128),
})
