import vine from '@vinejs/vine'
import { id } from '#validators/rules'

/**
 * Field rules of accounts: the one username rule, the one email rule and
 * the one password rule, used by sign-up, user management and
 * `tenants:create` alike (and login only looks up names that pass
 * USERNAME). Usernames and emails are unique case-insensitively across the
 * platform.
 */
export const USERNAME = /^[A-Za-z0-9_.-]{3,150}$/

export const username = () => vine.string().trim().regex(USERNAME)

export const email = () => vine.string().trim().maxLength(254).email()

export const password = () => vine.string().minLength(8).maxLength(128)

/**
 * Free text that reaches PostgreSQL must not hold control characters (a
 * NUL byte is an error there, not a value).
 */
const PRINTABLE = /^[^\p{Cc}]*$/u

/**
 * Tenant slugs are lower-case letters, digits and dashes.
 */
const SLUG = /^[A-Za-z0-9-]{1,80}$/

/**
 * A store's (tenant's) name, at sign-up and in `tenants:create`.
 */
export const storeName = () => vine.string().trim().minLength(1).maxLength(200).regex(PRINTABLE)

export const registerValidator = vine.create({
  username: username(),
  email: email(),
  password: password(),
  store_name: storeName(),
})

/**
 * `store` is the tenant's slug or its id (a number or a numeric string).
 */
export const registerCustomerValidator = vine.create({
  store: vine.union([
    vine.union.if((value) => typeof value === 'number' || /^\s*\d+\s*$/.test(String(value)), id()),
    vine.union.else(vine.string().trim().regex(SLUG)),
  ]),
  username: username(),
  email: email(),
  password: password(),
})

/**
 * Login does not apply the sign-up rules to the username: a name that
 * cannot exist is the same 401 as a wrong password (see AuthService.login).
 */
export const loginValidator = vine.create({
  username: vine.string().trim().minLength(1).maxLength(150),
  password: vine.string().minLength(1).maxLength(128),
})

export const refreshValidator = vine.create({
  refresh: vine.string().minLength(1).maxLength(512),
})
