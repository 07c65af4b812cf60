/*
| Routes of the docs area. Registered by start/routes.ts.
|
| GET /openapi.json: the OpenAPI 3.1 document (docs/openapi.yaml, as JSON).
| GET /docs: the browsable reference, with its assets served under
| /docs/assets/ by this server (no outside network).
*/

import router from '@adonisjs/core/services/router'

const DocsController = () => import('#controllers/docs_controller')

router.get('/openapi.json', [DocsController, 'openapi'])
router.get('/docs', [DocsController, 'page'])
router.get('/docs/assets/:file', [DocsController, 'asset'])
