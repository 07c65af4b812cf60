import app from '@adonisjs/core/services/app'
import { errors as vineErrors } from '@vinejs/vine'
import { type HttpContext, ExceptionHandler } from '@adonisjs/core/http'
import { mapDatabaseError, withUniqueViolationColumn } from '#exceptions/database_errors'

export interface ApiError {
  message: string
  code: string
  field?: string
}

interface Rendered {
  status: number
  errors: ApiError[]
  headers?: Record<string, string>
}

const REDIS_DOWN =
  /enableOfflineQueue|Connection is closed|MaxRetriesPerRequest|ECONNREFUSED.*6379|Reached the max retries/

/**
 * Every error leaves the API in one shape:
 * `{"errors": [{"message", "code", "field"?}]}`. Validation answers one entry
 * per failing field; everything unexpected is a logged 500 that never leaks
 * a stack trace or an internal message in production.
 */
export default class HttpExceptionHandler extends ExceptionHandler {
  protected debug = !app.inProduction

  async handle(error: unknown, ctx: HttpContext) {
    await withUniqueViolationColumn(error)
    const { status, errors, headers } = this.render(error)
    for (const [name, value] of Object.entries(headers ?? {})) {
      ctx.response.header(name, value)
    }
    ctx.response.status(status).send({ errors })
  }

  async report(error: unknown, ctx: HttpContext) {
    const { status } = this.render(error)
    if (status >= 500) {
      ctx.logger.error({ err: error, status }, 'request failed')
    }
  }

  protected render(error: unknown): Rendered {
    if (error instanceof vineErrors.E_VALIDATION_ERROR) {
      return {
        status: 422,
        errors: (error.messages as { field: string; message: string; rule: string }[]).map(
          (message) => ({
            message: message.message,
            code: 'E_VALIDATION_ERROR',
            field: message.field,
          })
        ),
      }
    }

    const mapped = mapDatabaseError(error)
    if (mapped) {
      const { status, retryAfter, ...entry } = mapped
      const headers = retryAfter ? { 'Retry-After': String(retryAfter) } : undefined
      return { status, headers, errors: [withoutEmptyField(entry)] }
    }

    const err = (error ?? {}) as {
      status?: number
      code?: string
      message?: string
      field?: string
      name?: string
      response?: { availableIn?: number }
    }

    if (typeof err.message === 'string' && REDIS_DOWN.test(err.message)) {
      return unavailable('A dependency (Redis) is unavailable')
    }

    if (err.code === 'E_TOO_MANY_REQUESTS') {
      const retryAfter = Math.max(1, Math.ceil(err.response?.availableIn ?? 1))
      return {
        status: 429,
        headers: { 'Retry-After': String(retryAfter) },
        errors: [{ message: 'Too many requests, try again later', code: 'E_TOO_MANY_REQUESTS' }],
      }
    }

    const status = typeof err.status === 'number' && err.status >= 400 ? err.status : 500
    if (status >= 500 && !(status === 503 && err.code)) {
      return {
        status: 500,
        errors: [
          {
            message: this.debug && err.message ? err.message : 'Internal server error',
            code: 'E_INTERNAL_SERVER_ERROR',
          },
        ],
      }
    }

    return {
      status,
      errors: [
        withoutEmptyField({
          message: messageFor(status, err.code, err.message),
          code: codeFor(status, err.code),
          field: err.field,
        }),
      ],
    }
  }
}

function unavailable(message: string): Rendered {
  return { status: 503, errors: [{ message, code: 'E_SERVICE_UNAVAILABLE' }] }
}

function withoutEmptyField(entry: ApiError): ApiError {
  if (entry.field === undefined) delete entry.field
  return entry
}

const DEFAULT_CODES: Record<number, string> = {
  400: 'E_BAD_REQUEST',
  401: 'E_UNAUTHORIZED_ACCESS',
  403: 'E_AUTHORIZATION_FAILURE',
  404: 'E_NOT_FOUND',
  405: 'E_METHOD_NOT_ALLOWED',
  409: 'E_CONFLICT',
  413: 'E_REQUEST_ENTITY_TOO_LARGE',
  415: 'E_UNSUPPORTED_MEDIA_TYPE',
  422: 'E_VALIDATION_ERROR',
  503: 'E_SERVICE_UNAVAILABLE',
}

function codeFor(status: number, code?: string): string {
  if (code && /^E_[A-Z0-9_]+$/.test(code)) return code
  return DEFAULT_CODES[status] ?? 'E_HTTP_ERROR'
}

/**
 * Framework messages are kept where they are meant for clients; a few are
 * rephrased so that they never name internals.
 */
function messageFor(status: number, code?: string, message?: string): string {
  if (code === 'E_ROUTE_NOT_FOUND') return 'Route not found'
  if (status === 400 && (!code || code === 'E_BAD_REQUEST')) return 'Malformed JSON in request body'
  if (status === 413) return 'Request body is too large'
  if (code === 'E_ROW_NOT_FOUND') return 'Resource not found'
  return message || 'Request failed'
}
