/*
| Routes of the orders area: orders and stock adjustments (both processed
| by the queue worker). Registered by start/routes.ts. `:id` is a positive
| integer (global matcher); so is `:adjustment_id`.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import { ID_ROUTE_PARAM } from '#helpers/ids'

const OrdersController = () => import('#controllers/orders_controller')
const StockAdjustmentsController = () => import('#controllers/stock_adjustments_controller')

router
  .group(() => {
    router.get('/orders', [OrdersController, 'index'])
    router.post('/orders', [OrdersController, 'store'])
    router.get('/orders/:id', [OrdersController, 'show'])
    router.patch('/orders/:id', [OrdersController, 'update'])
    router.post('/orders/:id/cancel', [OrdersController, 'cancel'])

    router.post('/products/:id/stock-adjustments', [StockAdjustmentsController, 'store'])
    router.get('/products/:id/stock-adjustments', [StockAdjustmentsController, 'index'])
    router
      .get('/products/:id/stock-adjustments/:adjustment_id', [StockAdjustmentsController, 'show'])
      .where('adjustment_id', ID_ROUTE_PARAM)
  })
  .prefix('/api')
  .use([middleware.auth(), middleware.tenant()])
