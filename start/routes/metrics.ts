/*
| Routes of the metrics area. Registered by start/routes.ts.
|
| GET /metrics: the API process's Prometheus metrics (METRICS_TOKEN).
*/

import router from '@adonisjs/core/services/router'

const MetricsController = () => import('#controllers/metrics_controller')

router.get('/metrics', [MetricsController, 'show'])
