import { Exception } from '@adonisjs/core/exceptions'

/**
 * Login refused: unknown username, wrong password or deactivated account
 * alike, with one message, so the answer never tells which.
 */
export class InvalidCredentialsException extends Exception {
  static status = 401
  static code = 'E_INVALID_CREDENTIALS'
  static message = 'Invalid username or password'
}

/**
 * A refresh token that is unknown, expired, already used, or whose login
 * session, user or tenant no longer admits it.
 */
export class InvalidRefreshTokenException extends Exception {
  static status = 401
  static code = 'E_INVALID_REFRESH_TOKEN'
  static message = 'Invalid or expired refresh token'
}
