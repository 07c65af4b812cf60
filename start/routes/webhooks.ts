/*
| Routes of the webhooks area: the owner's endpoints, their deliveries.
| Registered by start/routes.ts. `:id` is a positive integer (global
| matcher); so is `:delivery_id`.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'

const WebhooksController = () => import('#controllers/webhooks_controller')

const ID = { match: /^[1-9][0-9]{0,14}$/, cast: (value: string) => Number(value) }

router
  .group(() => {
    router.get('/', [WebhooksController, 'index'])
    router.post('/', [WebhooksController, 'store'])
    router.get('/:id', [WebhooksController, 'show'])
    router.patch('/:id', [WebhooksController, 'update'])
    router.delete('/:id', [WebhooksController, 'destroy'])
    router.post('/:id/rotate-secret', [WebhooksController, 'rotateSecret'])
    router.post('/:id/ping', [WebhooksController, 'ping'])
    router.get('/:id/deliveries', [WebhooksController, 'deliveries'])
    router
      .post('/:id/deliveries/:delivery_id/retry', [WebhooksController, 'retry'])
      .where('delivery_id', ID)
  })
  .prefix('/api/webhooks')
  .use([middleware.auth(), middleware.tenant()])
