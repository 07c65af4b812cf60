import logger from '@adonisjs/core/services/logger'
import { requestPoolRefill } from '#queue/pool_refill'
import type { TenantEventPayload } from '#events/tenant_events'

/**
 * After a sign-up or an import committed with a spare of the pool, asks
 * the worker to top the pool up, without waiting: a lost request is made
 * up by the worker's periodic refill (docs/design/tenant_pool.md).
 */
export default class RefillTenantPool {
  handle(event: TenantEventPayload & { spareClaimed: boolean }) {
    if (!event.spareClaimed) return
    requestPoolRefill().catch((error) => {
      logger.warn({ err: error }, 'could not request a refill of the tenant pool')
    })
  }
}
