import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import { parse } from 'yaml'
import app from '@adonisjs/core/services/app'

/**
 * There is no Docker engine on the project's machines, so the compose file
 * is held to what can be checked without one: its services, healthchecks,
 * and that every command it runs is an npm script that exists.
 */
function npmScriptsIn(command: string | string[]): string[] {
  const line = Array.isArray(command) ? command.join(' ') : command
  return [...line.matchAll(/\bnpm\s+(?:run\s+)?([a-z][\w:-]*)/g)].map((match) => match[1])
}

test.group('docker-compose.yml', () => {
  test('defines postgres, redis, api and worker with healthchecks', async ({ assert }) => {
    const compose = parse(await readFile(app.makePath('docker-compose.yml'), 'utf8'))
    assert.includeMembers(Object.keys(compose.services), ['postgres', 'redis', 'api', 'worker'])
    assert.match(compose.services.postgres.image, /^postgres:17/)
    assert.match(compose.services.redis.image, /^redis:7/)
    assert.include(compose.services.redis.command.join(' '), '--maxmemory-policy noeviction')
    assert.exists(compose.services.postgres.healthcheck)
    assert.exists(compose.services.redis.healthcheck)
    assert.equal(compose.services.api.depends_on.postgres.condition, 'service_healthy')
    assert.equal(compose.services.api.depends_on.redis.condition, 'service_healthy')
  })

  test('every command it runs is an npm script that exists', async ({ assert }) => {
    const compose = parse(await readFile(app.makePath('docker-compose.yml'), 'utf8'))
    const { scripts } = JSON.parse(await readFile(app.makePath('package.json'), 'utf8'))

    const used = Object.values<any>(compose.services)
      .filter((service) => service.command)
      .flatMap((service) => npmScriptsIn(service.command))
    assert.includeMembers(used, ['migrate', 'start', 'worker'])
    for (const script of used) {
      assert.property(scripts, script, `npm script "${script}" is missing`)
    }
  })

  test('the Dockerfile runs as a non-root user with production dependencies', async ({
    assert,
  }) => {
    const dockerfile = await readFile(app.makePath('Dockerfile'), 'utf8')
    assert.match(dockerfile, /^USER node$/m)
    assert.match(dockerfile, /npm ci --omit=dev/)
    assert.match(dockerfile, /FROM node:24/)
  })

  test('no secret is written in it: the services read the generated ones from files', async ({
    assert,
  }) => {
    const compose = parse(await readFile(app.makePath('docker-compose.yml'), 'utf8'))
    for (const name of ['api', 'worker']) {
      const service = compose.services[name]
      for (const key of ['APP_KEY', 'JWT_SECRET', 'DB_PASSWORD', 'REDIS_PASSWORD']) {
        assert.notProperty(service.environment, key, `${name} sets ${key}`)
      }
      assert.equal(service.environment.APP_KEY_FILE, '/run/secrets/app_key')
      assert.equal(service.environment.JWT_SECRET_FILE, '/run/secrets/jwt_secret')
      assert.equal(service.environment.DB_PASSWORD_FILE, '/run/secrets/db_password')
      assert.include(service.volumes, 'secrets:/run/secrets:ro')
    }
    assert.notProperty(compose.services.postgres.environment, 'POSTGRES_PASSWORD')
    assert.equal(
      compose.services.postgres.environment.POSTGRES_PASSWORD_FILE,
      '/run/secrets/db_password'
    )
    for (const name of ['postgres', 'api']) {
      assert.equal(
        compose.services[name].depends_on.secrets.condition,
        'service_completed_successfully'
      )
    }
    assert.include(compose.services.secrets.volumes, 'secrets:/secrets')
    assert.property(compose.volumes, 'secrets')
  })

  test('the secrets service generates distinct random values once and keeps them', async ({
    assert,
  }) => {
    const compose = parse(await readFile(app.makePath('docker-compose.yml'), 'utf8'))
    const [shell, flag, script] = compose.services.secrets.entrypoint as string[]
    const directory = mkdtempSync(join(tmpdir(), 'compose-secrets-'))
    // Compose turns `$$` into `$`; the script runs here on a temporary directory.
    const local = script.replaceAll('$$', '$').replace('cd /secrets', `cd ${directory}`)
    const names = ['app_key', 'jwt_secret', 'db_password']
    const read = () => names.map((name) => readFileSync(join(directory, name), 'utf8'))

    execFileSync(shell, [flag, local])
    const first = read()
    assert.lengthOf(new Set(first), 3)
    for (const value of first) assert.match(value, /^[A-Za-z0-9_-]{64}$/)

    chmodSync(join(directory, 'db_password'), 0o644)
    writeFileSync(join(directory, 'db_password'), 'kept-from-an-earlier-start')
    execFileSync(shell, [flag, local])
    assert.deepEqual(read(), [first[0], first[1], 'kept-from-an-earlier-start'])
  })
})

test.group('docs/deploy/citus/docker-compose.yml', () => {
  const file = 'docs/deploy/citus/docker-compose.yml'

  test('a coordinator and two workers from citusdata/citus, registered before the API starts', async ({
    assert,
  }) => {
    const compose = parse(await readFile(app.makePath(file), 'utf8'), { merge: true })
    const { services } = compose
    for (const node of ['coordinator', 'worker1', 'worker2']) {
      assert.match(services[node].image, /^citusdata\/citus:13\./, node)
      assert.exists(services[node].healthcheck, node)
      assert.include(services[node].command.join(' '), 'wal_level=logical', node)
    }
    assert.include(services.coordinator.command.join(' '), 'citus.enable_schema_based_sharding=on')
    const init = services['cluster-init'].command.join(' ')
    assert.include(init, "citus_set_coordinator_host('coordinator', 5432)")
    assert.include(init, "citus_add_node('worker1', 5432)")
    assert.include(init, "citus_add_node('worker2', 5432)")
    assert.equal(
      services.api.depends_on['cluster-init'].condition,
      'service_completed_successfully'
    )
    assert.equal(services.api.environment.DB_HOST, 'coordinator')
    assert.equal(services.worker.environment.DB_HOST, 'coordinator')
  })

  test('its API and worker build this repository and run npm scripts that exist', async ({
    assert,
  }) => {
    const compose = parse(await readFile(app.makePath(file), 'utf8'), { merge: true })
    const { scripts } = JSON.parse(await readFile(app.makePath('package.json'), 'utf8'))
    for (const name of ['api', 'worker']) {
      const service = compose.services[name]
      assert.equal(app.makePath('docs/deploy/citus', service.build), app.makePath(), name)
      for (const script of npmScriptsIn(service.command)) {
        assert.property(scripts, script, `npm script "${script}" is missing`)
      }
    }
  })
})
