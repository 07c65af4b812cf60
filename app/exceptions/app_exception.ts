import { Exception } from '@adonisjs/core/exceptions'

/**
 * An error the API answers on purpose: a status, a stable code and a human
 * message, optionally about one field. The exception handler renders it in
 * the contract's error shape.
 */
export default class AppException extends Exception {
  declare field?: string

  constructor(message: string, options: { status: number; code: string; field?: string }) {
    super(message, { status: options.status, code: options.code })
    if (options.field) this.field = options.field
  }

  static unauthorized(message = 'Unauthorized access') {
    return new AppException(message, { status: 401, code: 'E_UNAUTHORIZED_ACCESS' })
  }

  static notFound(message = 'Resource not found') {
    return new AppException(message, { status: 404, code: 'E_NOT_FOUND' })
  }

  static conflict(message: string, field?: string) {
    return new AppException(message, { status: 409, code: 'E_CONFLICT', field })
  }

  static unprocessable(message: string, field: string) {
    return new AppException(message, { status: 422, code: 'E_VALIDATION_ERROR', field })
  }
}
