/*
|--------------------------------------------------------------------------
| Routes
|--------------------------------------------------------------------------
|
| Every route answers with and without a trailing slash (see
| TrailingSlashMiddleware). Tenant-scoped routes use `auth` then `tenant`.
|
*/

import router from '@adonisjs/core/services/router'

const HealthController = () => import('#controllers/health_controller')

router.get('/health/live', [HealthController, 'live'])
router.get('/health/ready', [HealthController, 'ready'])
