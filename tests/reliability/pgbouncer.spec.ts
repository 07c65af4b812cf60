import pg from 'pg'
import { test } from '@japa/runner'
import env from '#start/env'
import { databaseName, directConnection } from '#config/database'
import { signUpBody, uniqueIp } from '#tests/support/auth'
import {
  pgbouncerBinary,
  privatePgbouncer,
  spawnApi,
  type ApiProcess,
  type PrivatePgbouncer,
} from '#tests/support/processes'

/**
 * The API behind a PgBouncer in transaction mode whose pool holds ONE
 * server connection: every request of every tenant runs its transaction on
 * the same PostgreSQL backend, one after another, interleaved. Whatever a
 * transaction left behind in the session (search_path, role, a setting, a
 * prepared statement, a temporary table, an advisory lock, a LISTEN) would
 * be seen by the next tenant's request, and by the probe below.
 */
const MANAGED_BY_PGBOUNCER = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'intervalstyle',
  'standard_conforming_strings',
  'timezone',
])

const PROBE_SQL = `
  select pg_backend_pid() as pid,
         current_setting('search_path') as search_path,
         current_user::text as current_user,
         session_user::text as session_user,
         coalesce((select json_agg(lower(name) order by name) from pg_settings where source = 'session'), '[]') as session_settings,
         pg_my_temp_schema() <> 0 as has_temp_schema,
         (select count(*)::int from pg_prepared_statements) as prepared_statements,
         (select count(*)::int from pg_locks where pid = pg_backend_pid() and locktype = 'advisory') as advisory_locks,
         (select count(*)::int from pg_listening_channels()) as listening
`

async function probe(client: pg.Client) {
  const { rows } = await client.query(PROBE_SQL)
  const row = rows[0]
  row.session_settings = (row.session_settings as string[]).filter(
    (name) => !MANAGED_BY_PGBOUNCER.has(name)
  )
  return row
}

async function call(api: ApiProcess, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': uniqueIp(),
      ...(token && { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json().catch(() => null)) as any }
}

const installed = pgbouncerBinary() !== null

test.group('PgBouncer in transaction mode, one server connection', (group) => {
  let bouncer: PrivatePgbouncer | undefined
  let api: ApiProcess | undefined
  let probeClient: pg.Client | undefined

  group.setup(async () => {
    if (!installed) return () => {}
    bouncer = await privatePgbouncer({
      poolSize: 1,
      dbHost: directConnection.host,
      dbPort: directConnection.port,
      dbUser: env.get('DB_USER'),
    })
    api = await spawnApi({
      DB_HOST: '127.0.0.1',
      DB_PORT: String(bouncer.port),
      DB_POOL_MAX: '6',
      // each client connection is retired once it has served both tenants:
      // retiring a client connection must leave PgBouncer's one server
      // connection as it is (checked at the end)
      DB_CONNECTION_MAX_TENANTS: '2',
    })
    probeClient = new pg.Client({
      host: '127.0.0.1',
      port: bouncer.port,
      user: env.get('DB_USER'),
      password: env.get('DB_PASSWORD'),
      database: databaseName,
    })
    await probeClient.connect()
    return async () => {
      await probeClient?.end().catch(() => {})
      await api?.kill('SIGKILL')
      await bouncer?.stop()
    }
  })

  test('two tenants interleaved: each sees only its rows, and no session state survives a transaction', async ({
    assert,
  }) => {
    const baseline = await probe(probeClient!)
    assert.deepEqual(baseline.session_settings, [])
    assert.equal(baseline.current_user, baseline.session_user)

    // Two stores signed up through the bouncer (provisioning DDL included).
    const stores: { letter: string; token: string; skus: string[] }[] = []
    for (const letter of ['A', 'B']) {
      const signUp = await call(api!, 'POST', '/api/auth/register/', undefined, signUpBody())
      assert.equal(signUp.status, 201, JSON.stringify(signUp.body))
      stores.push({ letter, token: signUp.body.access as string, skus: [] })
    }

    // Writes of both tenants interleaved, failures included (a taken sku is
    // an error inside the transaction, rolled back).
    const writes = await Promise.all(
      Array.from({ length: 12 }, (_, index) => {
        const store = stores[index % 2]
        const sku = `${store.letter}-${Math.floor(index / 2) % 4}`
        return call(api!, 'POST', '/api/products/', store.token, {
          name: `Product ${sku}`,
          sku,
          price: '1.00',
          stock: 3,
        }).then((response) => ({ store, sku, response }))
      })
    )
    for (const { store, sku, response } of writes) {
      assert.oneOf(response.status, [201, 409], JSON.stringify(response.body))
      if (response.status === 201) store.skus.push(sku)
    }
    for (const store of stores)
      assert.sameMembers(
        store.skus,
        ['0', '1', '2', '3'].map((n) => `${store.letter}-${n}`)
      )

    // Reads of both tenants interleaved with the probe.
    const reads = await Promise.all([
      ...Array.from({ length: 30 }, (_, index) =>
        call(api!, 'GET', '/api/products/?per_page=100', stores[index % 2].token).then(
          (response) => ({ store: stores[index % 2], response })
        )
      ),
    ])
    const midway = await probe(probeClient!)
    for (const { store, response } of reads) {
      assert.equal(response.status, 200)
      assert.sameMembers(
        response.body.data.map((product: { sku: string }) => product.sku),
        store.skus
      )
    }

    // The one server connection served all of it and is as it was.
    assert.deepEqual(midway, baseline)
    assert.deepEqual(await probe(probeClient!), baseline)
  })
    .skip(!installed, 'pgbouncer is not installed (Debian: apt-get install pgbouncer)')
    .timeout(90_000)
})
