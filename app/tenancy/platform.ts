import db from '@adonisjs/lucid/services/db'
import { PLATFORM_CONNECTION } from '#config/database'

/**
 * The owner role's connection (docs/design/isolation.md): provisioning,
 * tenant migrations, operator commands, and the few narrow paths that
 * legitimately span tenants (login lookup by username, sign-up uniqueness
 * checks, session rotation and purge, the sweeper and queue status).
 * Never for a request's or a job's tenant work: that runs on the runtime
 * role's pool through `withTenant`.
 */
export function platformDb() {
  return db.connection(PLATFORM_CONNECTION)
}
