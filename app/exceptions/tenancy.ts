import { Exception } from '@adonisjs/core/exceptions'

/**
 * Tenant-scoped code ran without a tenant scope. This is a programming
 * error, never a client's: it fails closed and answers 500.
 */
export class MissingTenantContextException extends Exception {
  static status = 500
  static code = 'E_MISSING_TENANT_CONTEXT'
  static message = 'Tenant-scoped code ran without a tenant context'
}

/**
 * The tenant named by a token or a job does not exist (any more).
 */
export class TenantNotFoundException extends Exception {
  static status = 404
  static code = 'E_TENANT_NOT_FOUND'

  constructor(tenantId: number) {
    super(`Tenant ${tenantId} does not exist`)
  }
}

export class TenantSuspendedException extends Exception {
  static status = 403
  static code = 'E_TENANT_SUSPENDED'
  static message = 'This store is suspended'
}
