/*
|--------------------------------------------------------------------------
| Routes
|--------------------------------------------------------------------------
|
| Every route answers with and without a trailing slash (see
| TrailingSlashMiddleware). Tenant-scoped routes use `auth` then `tenant`.
| Each area keeps its routes in start/routes/<area>.ts.
|
*/

import router from '@adonisjs/core/services/router'
import { ID_ROUTE_PARAM } from '#helpers/ids'

const HealthController = () => import('#controllers/health_controller')

/**
 * Every `:id` route parameter is a positive integer below 2^53; anything
 * else (letters, signs, out of the BIGINT range) is an unknown route: 404,
 * never a database error.
 */
router.where('id', ID_ROUTE_PARAM)

router.get('/health/live', [HealthController, 'live'])
router.get('/health/ready', [HealthController, 'ready'])

await import('#start/routes/auth')
await import('#start/routes/catalog')
await import('#start/routes/orders')
await import('#start/routes/webhooks')
await import('#start/routes/docs')
await import('#start/routes/metrics')
