import { assert } from '@japa/assert'
import { ApiClient, apiClient } from '@japa/api-client'
import app from '@adonisjs/core/services/app'
import type { Config } from '@japa/runner/types'
import { pluginAdonisJS } from '@japa/plugin-adonisjs'
import testUtils from '@adonisjs/core/services/test_utils'
import { authApiClient } from '@adonisjs/auth/plugins/api_client'
import { dropTestDatabase, prepareTestDatabase } from '#tests/support/database'
import { forgetRateLimits } from '#tests/support/rate_limits'
import { assertResponseMatchesContract } from '#tests/support/openapi'

/**
 * Japa plugins. Learn more - https://japa.dev/docs/runner-config#plugins-optional
 */
export const plugins: Config['plugins'] = [
  assert(),
  pluginAdonisJS(app),
  apiClient(),
  authApiClient(app),
]

/**
 * Every response of every API client request, in every test, is held to
 * docs/openapi.yaml: an undocumented status, a body off its schema or an
 * undocumented route answering anything but 404 fails the request, and so
 * the test (tests/support/openapi.ts).
 */
ApiClient.teardown(assertResponseMatchesContract)

/**
 * Before anything runs: a fresh test database (<DB_DATABASE>_test, dropped
 * and created again, so every run starts clean and can be repeated) with
 * the platform migrations applied and its runtime role created, and no
 * rate-limit counters of an earlier run. After the run the database and
 * its runtime role are dropped, so no role is left on the server.
 */
export const runnerHooks: Required<Pick<Config, 'setup' | 'teardown'>> = {
  setup: [() => prepareTestDatabase(), () => forgetRateLimits()],
  teardown: [() => dropTestDatabase()],
}

export const configureSuite: Config['configureSuite'] = (suite) => {
  if (['functional', 'reliability', 'browser'].includes(suite.name)) {
    return suite.setup(() => testUtils.httpServer().start())
  }
}
