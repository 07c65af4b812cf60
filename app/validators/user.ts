import vine from '@vinejs/vine'
import { ROLES } from '#auth/jwt'
import { email, password, username } from '#validators/auth'
import { pagination } from '#validators/rules'

/**
 * Roles an owner can give: a store has exactly one owner, its founder.
 */
export const MANAGED_ROLES = ['staff', 'customer'] as const

export const listUsersValidator = vine.create({
  ...pagination,
  role: vine.enum(ROLES).optional(),
})

export const createUserValidator = vine.create({
  username: username(),
  email: email(),
  password: password(),
  role: vine.enum(MANAGED_ROLES),
})

/**
 * The password of a users request alone, to hash it before the tenant
 * transaction opens (UserWriteMiddleware); the whole body is validated by
 * the controller.
 */
export const passwordValidator = vine.create({
  password: password().optional(),
})

export const updateUserValidator = vine.create({
  email: email().optional(),
  password: password().optional(),
  role: vine.enum(MANAGED_ROLES).optional(),
  is_active: vine.boolean({ strict: true }).optional(),
})
