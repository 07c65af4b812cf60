/*
| Routes of the catalog area: products and their stock ledger. Registered by
| start/routes.ts. `:id` is a positive integer (global matcher).
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'

const ProductsController = () => import('#controllers/products_controller')
const StockMovementsController = () => import('#controllers/stock_movements_controller')

/**
 * The product list opens its tenant transaction itself, in one round trip
 * (entry, admission and page in one message: ProductService.listForRequest),
 * so it has `auth` but not `tenant`.
 */
router
  .group(() => {
    router.get('/products', [ProductsController, 'index'])
  })
  .prefix('/api')
  .use([middleware.auth()])

router
  .group(() => {
    router.post('/products', [ProductsController, 'store'])
    router.get('/products/:id', [ProductsController, 'show'])
    router.put('/products/:id', [ProductsController, 'update'])
    router.patch('/products/:id', [ProductsController, 'patch'])
    router.delete('/products/:id', [ProductsController, 'destroy'])
    router.get('/products/:id/stock-movements', [StockMovementsController, 'index'])
  })
  .prefix('/api')
  .use([middleware.auth(), middleware.tenant()])
