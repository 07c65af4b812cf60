/**
 * Tenant lifecycle events on the application emitter, for features that
 * hook into onboarding, suspension and removal.
 */
export interface TenantEventPayload {
  tenantId: number
  schema: string
}

declare module '@adonisjs/core/types' {
  interface EventsList {
    'tenant:provisioned': TenantEventPayload & { ownerId: number; spareClaimed: boolean }
    'tenant:suspended': TenantEventPayload
    'tenant:resumed': TenantEventPayload
    'tenant:dropped': TenantEventPayload
  }
}
