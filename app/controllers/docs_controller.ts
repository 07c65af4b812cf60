import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parse } from 'yaml'
import app from '@adonisjs/core/services/app'
import type { HttpContext } from '@adonisjs/core/http'
import AppException from '#exceptions/app_exception'

/**
 * The directory of swagger-ui-dist's files. Its `absolute-path.js` is
 * loaded on its own: the package's main module would evaluate the whole
 * browser bundle in Node.
 */
const swaggerUiDirectory = (
  createRequire(import.meta.url)('swagger-ui-dist/absolute-path.js') as () => string
)()

/**
 * Starts Swagger UI on /openapi.json. Served as a file, not inline, so the
 * page's Content-Security-Policy can forbid inline scripts.
 */
const INITIALIZER = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout'
  });
});
`

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>tenant-commerce API reference</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
    <script src="/docs/assets/init.js"></script>
  </body>
</html>
`

/**
 * Everything the page loads comes from this server; the browser is told
 * so, which also keeps Swagger UI from calling out (validator badge).
 */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const JS = 'text/javascript; charset=utf-8'
const fromSwaggerUi = (name: string) => () => readFile(join(swaggerUiDirectory, name))

/**
 * The only files served under /docs/assets/: a fixed list, so no request
 * can name any other file (no path traversal, no source maps).
 */
const ASSETS: Record<string, { type: string; load: () => Promise<Buffer> }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', load: fromSwaggerUi('swagger-ui.css') },
  'swagger-ui-bundle.js': { type: JS, load: fromSwaggerUi('swagger-ui-bundle.js') },
  'swagger-ui-standalone-preset.js': {
    type: JS,
    load: fromSwaggerUi('swagger-ui-standalone-preset.js'),
  },
  'favicon-32x32.png': { type: 'image/png', load: fromSwaggerUi('favicon-32x32.png') },
  'favicon-16x16.png': { type: 'image/png', load: fromSwaggerUi('favicon-16x16.png') },
  'init.js': { type: JS, load: async () => Buffer.from(INITIALIZER) },
}

let openapiDocument: Promise<unknown> | undefined
const assetCache = new Map<string, Promise<Buffer>>()

/**
 * docs/openapi.yaml, parsed once and kept. The build copies it (adonisrc
 * metaFiles), so the same path resolves from source and from build/.
 */
function loadDocument() {
  openapiDocument ??= readFile(app.makePath('docs/openapi.yaml'), 'utf8')
    .then((text) => parse(text) as unknown)
    .catch((error) => {
      openapiDocument = undefined
      throw error
    })
  return openapiDocument
}

/**
 * An asset's bytes, read once and kept (about 2 MB in all).
 */
function loadAsset(name: string) {
  let content = assetCache.get(name)
  if (!content) {
    content = ASSETS[name].load()
    content.catch(() => assetCache.delete(name))
    assetCache.set(name, content)
  }
  return content
}

export default class DocsController {
  /**
   * GET /openapi.json: the OpenAPI 3.1 document of this API.
   */
  async openapi({ response }: HttpContext) {
    response.header('cache-control', 'no-cache')
    return response.json(await loadDocument())
  }

  /**
   * GET /docs: the browsable API reference (Swagger UI), rendered from
   * /openapi.json without any outside network.
   */
  page({ response }: HttpContext) {
    response.header('content-type', 'text/html; charset=utf-8')
    response.header('content-security-policy', PAGE_POLICY)
    response.header('cache-control', 'no-cache')
    return response.send(PAGE)
  }

  /**
   * GET /docs/assets/:file: one of the page's whitelisted static files.
   */
  async asset({ params, response }: HttpContext) {
    const name = String(params.file)
    if (!Object.hasOwn(ASSETS, name)) {
      throw AppException.notFound('Asset not found')
    }
    response.header('content-type', ASSETS[name].type)
    response.header('cache-control', 'public, max-age=3600')
    response.header('x-content-type-options', 'nosniff')
    return response.send(await loadAsset(name))
  }
}
