import { platformDb } from '#tenancy/platform'

/**
 * Tests arrange and inspect rows across tenants as the owner role (the
 * runtime role that serves requests sees a tenant's rows only inside a
 * transaction entered for it).
 */
const db = platformDb()
export default db
