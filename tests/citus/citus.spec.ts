import { test } from '@japa/runner'
import { ApiClient } from '@japa/api-client'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import { TenantMigrator } from '#tenancy/tenant_migrator'
import { signUpBody, uniqueIp, uniqueName, PASSWORD } from '#tests/support/auth'
import {
  CITUS_SKIP_MESSAGE,
  citusUrl,
  prepareCitusCluster,
  spawnApi,
  type ApiProcess,
  type CitusCluster,
} from '#tests/support/citus'
import { bodyOf, expectStatus } from '#tests/support/http'
import { runAce, spawnWorker, type WorkerProcess } from '#tests/support/processes'
import { tenantMigrationsFixture } from '#tests/support/tenancy'
import { startReceiver, verifiedBy } from '#tests/support/webhooks'

/**
 * The product on a real Citus cluster (coordinator + two workers, schema-
 * based sharding): the application runs as child processes against the
 * coordinator; every response is still checked against docs/openapi.yaml
 * (ApiClient's global hook). Skipped when CITUS_URL is unset.
 */
let cluster: CitusCluster
let server: ApiProcess
let workerProcess: WorkerProcess

function client(assert: Assert) {
  return new ApiClient(server.baseUrl, assert)
}

async function register(assert: Assert) {
  const body = signUpBody()
  const response = await client(assert)
    .post('/api/auth/register/')
    .header('x-forwarded-for', uniqueIp())
    .json(body)
  response.assertStatus(201)
  return response.body() as {
    access: string
    tenant: { id: number; slug: string }
    user: { id: number }
  }
}

async function registerCustomer(assert: Assert, store: string) {
  const username = uniqueName('customer')
  const response = await client(assert)
    .post('/api/auth/register/customer/')
    .header('x-forwarded-for', uniqueIp())
    .json({ store, username, email: `${username}@example.com`, password: PASSWORD })
  response.assertStatus(201)
  return response.body().access as string
}

async function createProduct(assert: Assert, token: string, stock = 10) {
  const response = await client(assert)
    .post('/api/products/')
    .bearerToken(token)
    .json({ name: uniqueName('Widget'), sku: uniqueName('SKU'), price: '9.50', stock })
  response.assertStatus(201)
  return response.body() as { id: number; stock: number; sku: string }
}

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await probe()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function ledgerAgrees(tenantId: number, productId: number) {
  const [row] = await cluster.query(
    `select p.stock, coalesce(sum(m.delta), 0)::int as ledger
     from "tenant_${tenantId}".products p
     left join "tenant_${tenantId}".stock_movements m on m.product_id = p.id
     where p.id = $1 group by p.stock`,
    [productId]
  )
  return row as { stock: number; ledger: number }
}

async function nodeOf(tenantId: number): Promise<string[]> {
  const rows = await cluster.query(
    `select distinct nodename || ':' || nodeport as node from citus_shards
     where citus_table_type = 'schema' and table_name::text like $1 order by 1`,
    [`tenant\\_${tenantId}.%`]
  )
  return rows.map((row) => row.node)
}

/** The tables of a tenant schema, as the coordinator's catalog lists them. */
async function tablesOf(tenantId: number): Promise<string[]> {
  const rows = await cluster.query(
    `select tablename from pg_tables where schemaname = $1 order by 1`,
    [`tenant_${tenantId}`]
  )
  return rows.map((row) => row.tablename)
}

test.group('Citus: the product on a real cluster', (group) => {
  group.tap((t) => t.skip(!citusUrl(), CITUS_SKIP_MESSAGE))

  group.setup(async () => {
    if (!citusUrl()) return
    cluster = await prepareCitusCluster()
    // As `npm run migrate`: the platform migrations as the owner role, then
    // tenants:migrate, which creates the runtime role and its grants.
    const migrated = await runAce(
      ['migration:run', '--force', '--connection=migrations'],
      cluster.env
    )
    if (migrated.code !== 0) throw new Error(`migration:run failed:\n${migrated.output}`)
    const secured = await runAce(['tenants:migrate'], cluster.env)
    if (secured.code !== 0) throw new Error(`tenants:migrate failed:\n${secured.output}`)
    server = await spawnApi(cluster.env)
    workerProcess = await spawnWorker(cluster.env)
  })

  group.teardown(async () => {
    await server?.stop()
    if (workerProcess) {
      const stopped = setTimeout(() => process.kill(workerProcess.pid, 'SIGKILL'), 15_000)
      await workerProcess.kill('SIGTERM')
      clearTimeout(stopped)
    }
    await cluster?.close()
  })

  test('sign-up creates the tenant schema as a distributed schema on a worker', async ({
    assert,
  }) => {
    const { tenant } = await register(assert)
    const [schema] = await cluster.query(
      `select colocationid from pg_dist_schema where schemaid = to_regnamespace($1)`,
      [`tenant_${tenant.id}`]
    )
    assert.exists(schema, 'the tenant schema is a distributed schema')
    const nodes = await nodeOf(tenant.id)
    assert.lengthOf(nodes, 1)
    const workers = cluster.workers.map((node) => `${node.host}:${node.port}`)
    assert.include(workers, nodes[0])
    // Every tenant table (and the schema's migration ledger) is a shard of it.
    const [shards] = await cluster.query(
      `select count(*)::int as n from citus_shards where table_name::text like $1`,
      [`tenant\\_${tenant.id}.%`]
    )
    const tables = await tablesOf(tenant.id)
    assert.includeMembers(tables, ['products', 'orders', 'outbox', 'webhook_endpoints'])
    assert.equal(shards.n, tables.length)
  })

  test('isolation: the runtime role reaches platform rows only through the sealed entry', async ({
    assert,
  }) => {
    const first = await register(assert)
    const second = await register(assert)
    // The tenancy schema is a plain local schema of the coordinator, like
    // the platform tables whose policies call its functions.
    assert.deepEqual(
      await cluster.query(
        `select 1 from pg_dist_schema where schemaid = to_regnamespace('tenancy')`
      ),
      []
    )
    assert.deepEqual(
      await cluster.query(
        `select 1 from pg_dist_partition where logicalrelid::text like 'public.%' or logicalrelid::text like 'tenancy.%'`
      ),
      []
    )

    // The role, its attributes, its setting and the revokes reached every
    // node (Citus propagates them from the coordinator).
    for (const node of [cluster.coordinator, ...cluster.workers]) {
      const [role] = await cluster.queryWorker(
        node,
        `select r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                has_database_privilege(r.rolname, current_database(), 'create') as create_schema,
                has_database_privilege(r.rolname, current_database(), 'temporary') as temporary,
                has_schema_privilege(r.rolname, 'public', 'create') as create_in_public,
                (select setconfig from pg_db_role_setting s
                 where s.setrole = r.oid and s.setdatabase =
                   (select oid from pg_database where datname = current_database())) as settings
         from pg_roles r where r.rolname = $1`,
        [cluster.runtimeUser]
      )
      assert.deepInclude(role, {
        rolsuper: false,
        rolbypassrls: false,
        rolcreaterole: false,
        rolcreatedb: false,
        create_schema: false,
        temporary: false,
        create_in_public: false,
      })
      assert.match(String(role.settings), /idle_in_transaction_session_timeout=[1-9]/)
    }

    const runtime = await cluster.connectAsRuntime()
    try {
      const count = async (sql: string) => {
        const { rows } = await runtime.query(sql)
        return rows[0].n as number
      }
      // No tenant entered: no platform row at all.
      assert.equal(await count('select count(*)::int as n from public.users'), 0)
      assert.equal(await count('select count(*)::int as n from public.tenants'), 0)

      // Entered: that tenant's rows only.
      await runtime.query(`begin; select tenancy.enter(${first.tenant.id})`)
      const { rows: users } = await runtime.query('select distinct tenant_id from public.users')
      assert.deepEqual(
        users.map((row) => row.tenant_id),
        [first.tenant.id]
      )
      const { rows: tenants } = await runtime.query('select id from public.tenants')
      assert.deepEqual(
        tenants.map((row) => row.id),
        [first.tenant.id]
      )
      await runtime.query('rollback')

      // Setting the tenant id by hand, without the seal, opens nothing.
      await runtime.query(
        `begin; select set_config('tenancy.tenant_id', '${second.tenant.id}', true)`
      )
      assert.equal(await count('select count(*)::int as n from public.users'), 0)
      await runtime.query('rollback')

      // The secret, a schema or a temporary table: refused.
      for (const sql of [
        'select value from tenancy.secret',
        'create schema intruder',
        'create temporary table intruder (id int)',
      ]) {
        const error = await runtime.query(sql).then(
          () => null,
          (failure) => failure
        )
        assert.equal(error?.code, '42501', sql)
      }
      // The per-database setting of the role (ensureRuntimeRole) applies.
      const { rows: idle } = await runtime.query('show idle_in_transaction_session_timeout')
      assert.notEqual(idle[0].idle_in_transaction_session_timeout, '0')
    } finally {
      await runtime.end()
    }
  })

  test('a sign-up that claims a spare of the pool gets a working distributed schema', async ({
    assert,
  }) => {
    const other = await register(assert)
    const filled = await runAce(['tenants:pool', '--fill', '--size=1'], cluster.env)
    assert.equal(filled.code, 0, filled.output)
    const [spare] = await cluster.query(`select id from public.tenant_spares`)
    assert.exists(spare, 'the pool holds a spare')

    // Until a sign-up claims it, a spare is out of the runtime role's reach,
    // even inside an entered tenant's transaction: on Citus its distributed
    // tables carry no guard policy, so this is the one fence (no tenant can
    // read it, or plant rows in it that a future tenant would inherit).
    const runtime = await cluster.connectAsRuntime()
    try {
      for (const sql of [
        `select count(*) from "tenant_spare_${spare.id}".products`,
        `insert into "tenant_spare_${spare.id}".products (name, sku, price, stock)
         values ('Planted', 'PLANTED', 1, 1)`,
      ]) {
        await runtime.query(`begin; select tenancy.enter(${other.tenant.id})`)
        const error = await runtime.query(sql).then(
          () => null,
          (failure) => failure
        )
        await runtime.query('rollback')
        assert.equal(error?.code, '42501', sql)
      }
    } finally {
      await runtime.end()
    }

    const { access: owner, tenant } = await register(assert)
    // The spare became the tenant's schema, still distributed.
    assert.deepEqual(await cluster.query(`select id from public.tenant_spares`), [])
    assert.deepEqual(
      await cluster.query(`select 1 from pg_namespace where nspname = $1`, [
        `tenant_spare_${spare.id}`,
      ]),
      []
    )
    const [schema] = await cluster.query(
      `select 1 from pg_dist_schema where schemaid = to_regnamespace($1)`,
      [`tenant_${tenant.id}`]
    )
    assert.exists(schema, 'the claimed schema is a distributed schema')
    // Secured for its tenant: the runtime role's requests work on it.
    const product = await createProduct(assert, owner, 4)
    await expectStatus(client(assert).get(`/api/products/${product.id}/`).bearerToken(owner), 200)
    assert.deepEqual(await ledgerAgrees(tenant.id, product.id), { stock: 4, ledger: 4 })
  })

  test('catalog: create, list, search, read, PUT and PATCH stock, ledger, delete', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const api = client(assert)
    const product = await createProduct(assert, owner, 10)

    const duplicate = await api
      .post('/api/products/')
      .bearerToken(owner)
      .json({ name: 'Copy', sku: product.sku, price: '1.00', stock: 0 })
    duplicate.assertStatus(409)
    // Mapped by SQLSTATE and column: on Citus the constraint name carries a shard id.
    assert.equal(duplicate.body().errors[0].code, 'E_CONFLICT')
    assert.equal(duplicate.body().errors[0].field, 'sku')

    const listed = await api
      .get(`/api/products/?search=${encodeURIComponent(product.sku.slice(0, 12))}&ordering=-price`)
      .bearerToken(owner)
    listed.assertStatus(200)
    assert.include(
      listed.body().data.map((row: { id: number }) => row.id),
      product.id
    )
    await expectStatus(api.get(`/api/products/${product.id}/`).bearerToken(owner), 200)

    const put = await api
      .put(`/api/products/${product.id}/`)
      .bearerToken(owner)
      .json({ name: 'Renamed', sku: product.sku, price: '12.00', stock: 25 })
    put.assertStatus(200)
    assert.equal(put.body().stock, 25)

    const patched = await api
      .patch(`/api/products/${product.id}/`)
      .bearerToken(owner)
      .json({ stock: 3 })
    patched.assertStatus(200)
    assert.equal(patched.body().stock, 3)

    const movements = await api
      .get(`/api/products/${product.id}/stock-movements/`)
      .bearerToken(owner)
    movements.assertStatus(200)
    assert.deepEqual(
      movements
        .body()
        .data.map((row: { kind: string; delta: number }) => [row.kind, row.delta])
        .sort(),
      [
        ['initial', 10],
        ['manual_set', -22],
        ['manual_set', 15],
      ]
    )
    assert.deepEqual(await ledgerAgrees(tenant.id, product.id), { stock: 3, ledger: 3 })

    const negative = await api
      .patch(`/api/products/${product.id}/`)
      .bearerToken(owner)
      .json({ stock: -1 })
    negative.assertStatus(422)

    await expectStatus(api.delete(`/api/products/${product.id}/`).bearerToken(owner), 204)
    await expectStatus(api.get(`/api/products/${product.id}/`).bearerToken(owner), 404)
  })

  test('stock adjustments are applied, or rejected below zero, by the worker', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const api = client(assert)
    const product = await createProduct(assert, owner, 5)

    const applied = await api
      .post(`/api/products/${product.id}/stock-adjustments/`)
      .bearerToken(owner)
      .json({ delta: 7, reason: 'delivery' })
    applied.assertStatus(202)
    const rejected = await api
      .post(`/api/products/${product.id}/stock-adjustments/`)
      .bearerToken(owner)
      .json({ delta: -100, reason: 'shrinkage' })
    rejected.assertStatus(202)

    const statuses = await eventually(
      () =>
        cluster.query(`select id, status from "tenant_${tenant.id}".stock_adjustments order by id`),
      (rows) => rows.every((row) => row.status !== 'pending')
    )
    assert.deepEqual(
      statuses.map((row) => row.status),
      ['applied', 'rejected']
    )
    assert.deepEqual(await ledgerAgrees(tenant.id, product.id), { stock: 12, ledger: 12 })
  })

  test('orders: placed, confirmed or rejected by the worker, idempotent, shipped, cancelled', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const customer = await registerCustomer(assert, tenant.slug)
    const api = client(assert)
    const product = await createProduct(assert, owner, 5)

    const placed = await api
      .post('/api/orders/')
      .bearerToken(customer)
      .header('idempotency-key', 'order-1')
      .json({ items: [{ product_id: product.id, qty: 2 }] })
    placed.assertStatus(202)
    assert.equal(placed.body().status, 'pending')
    const again = await api
      .post('/api/orders/')
      .bearerToken(customer)
      .header('idempotency-key', 'order-1')
      .json({ items: [{ product_id: product.id, qty: 2 }] })
    assert.equal(again.body().id, placed.body().id)

    const tooMany = await api
      .post('/api/orders/')
      .bearerToken(customer)
      .json({ items: [{ product_id: product.id, qty: 50 }] })
    tooMany.assertStatus(202)

    const statusOf = async (id: number) => {
      const order = await bodyOf(api.get(`/api/orders/${id}/`).bearerToken(customer))
      return order.status as string
    }
    assert.equal(
      await eventually(
        () => statusOf(placed.body().id),
        (status) => status !== 'pending'
      ),
      'confirmed'
    )
    assert.equal(
      await eventually(
        () => statusOf(tooMany.body().id),
        (status) => status !== 'pending'
      ),
      'rejected'
    )
    assert.deepEqual(await ledgerAgrees(tenant.id, product.id), { stock: 3, ledger: 3 })

    const list = await api.get('/api/orders/?status=confirmed').bearerToken(owner)
    list.assertStatus(200)
    assert.lengthOf(list.body().data, 1)

    const second = await api
      .post('/api/orders/')
      .bearerToken(customer)
      .json({ items: [{ product_id: product.id, qty: 1 }] })
    second.assertStatus(202)
    assert.equal(
      await eventually(
        () => statusOf(second.body().id),
        (status) => status !== 'pending'
      ),
      'confirmed'
    )
    const shipped = await api
      .patch(`/api/orders/${placed.body().id}/`)
      .bearerToken(owner)
      .json({ status: 'shipped' })
    shipped.assertStatus(200)
    await expectStatus(
      api
        .patch(`/api/orders/${placed.body().id}/`)
        .bearerToken(owner)
        .json({ status: 'delivered' }),
      200
    )

    // A confirmed order cancelled: its stock comes back through a worker.
    const cancelled = await api
      .post(`/api/orders/${second.body().id}/cancel/`)
      .bearerToken(customer)
    cancelled.assertStatus(200)
    assert.equal(cancelled.body().status, 'cancelled')
    const restored = await eventually(
      () => ledgerAgrees(tenant.id, product.id),
      (row) => row.stock === 3
    )
    assert.deepEqual(restored, { stock: 3, ledger: 3 })
  })

  test('webhooks: signed deliveries from the worker, read and recorded in combined round trips', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const api = client(assert)
    // The first four requests are answered together, once all four are in:
    // their outcomes reach the worker at once and are recorded together.
    let arrived = 0
    let answerAll!: () => void
    const together = new Promise<void>((resolve) => (answerAll = resolve))
    const receiver = await startReceiver(async (_request, index) => {
      arrived++
      if (arrived >= 4) answerAll()
      if (index < 4) await together
      return 202
    })
    try {
      const created = await api
        .post('/api/webhooks/')
        .bearerToken(owner)
        .json({ url: receiver.url, events: ['*'] })
      created.assertStatus(201)
      const endpoint = created.body() as { id: number; secret: string }
      for (let count = 0; count < 8; count++) {
        const ping = await api.post(`/api/webhooks/${endpoint.id}/ping/`).bearerToken(owner)
        ping.assertStatus(202)
      }
      await createProduct(assert, owner)
      const deliveries = await eventually(
        () =>
          cluster.query(
            `select status, attempts, last_status_code from "tenant_${tenant.id}".webhook_deliveries`
          ),
        (rows) => rows.length === 9 && rows.every((row) => row.status === 'delivered')
      )
      assert.lengthOf(deliveries, 9)
      for (const row of deliveries) {
        assert.deepEqual(row, { status: 'delivered', attempts: 1, last_status_code: 202 })
      }
      const [outbox] = await cluster.query(
        `select count(*)::int as n from "tenant_${tenant.id}".outbox`
      )
      assert.equal(outbox.n, 0)
      assert.lengthOf(receiver.requests, 9)
      for (const request of receiver.requests) assert.isTrue(verifiedBy(endpoint.secret, request))
      assert.sameMembers(
        [...new Set(receiver.requests.map((request) => request.json.type))],
        ['ping', 'product.created']
      )
      const deleted = await api.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(owner)
      deleted.assertStatus(204)
    } finally {
      answerAll()
      await receiver.close()
    }
  })

  test('a confirmation batch records the events of all its orders in one statement', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const customer = await registerCustomer(assert, tenant.slug)
    const api = client(assert)
    const product = await createProduct(assert, owner, 3)
    const receiver = await startReceiver(() => 204)
    try {
      const created = await api
        .post('/api/webhooks/')
        .bearerToken(owner)
        .json({ url: receiver.url, events: ['order.confirmed', 'order.rejected'] })
      created.assertStatus(201)
      const endpoint = created.body() as { id: number; secret: string }

      // A backlog of six orders for three units, then one worker taking one
      // job at a time: its first job decides the six in one batch.
      await workerProcess.kill('SIGTERM')
      const ids: number[] = []
      for (let count = 0; count < 6; count++) {
        const placed = await api
          .post('/api/orders/')
          .bearerToken(customer)
          .json({ items: [{ product_id: product.id, qty: 1 }] })
        placed.assertStatus(202)
        ids.push(placed.body().id)
      }
      workerProcess = await spawnWorker({ ...cluster.env, WORKER_CONCURRENCY: '1' })

      const deliveries = await eventually(
        () =>
          cluster.query(
            `select d.status, e.type, e.uid, e.body from "tenant_${tenant.id}".webhook_deliveries d
             join "tenant_${tenant.id}".webhook_events e on e.id = d.event_id order by e.id`
          ),
        (rows) => rows.length === 6 && rows.every((row) => row.status === 'delivered')
      )
      assert.deepEqual(
        deliveries.map((row) => [row.type, JSON.parse(row.body).data.id]),
        [
          ...ids.slice(0, 3).map((id) => ['order.confirmed', id]),
          ...ids.slice(3).map((id) => ['order.rejected', id]),
        ]
      )
      const [batches] = await cluster.query(
        `select count(distinct updated_at)::int as n from "tenant_${tenant.id}".orders`
      )
      assert.equal(batches.n, 1)
      assert.lengthOf(receiver.requests, 6)
      for (const request of receiver.requests) assert.isTrue(verifiedBy(endpoint.secret, request))
      assert.sameMembers(
        receiver.requests.map((request) => request.headers['webhook-id']),
        deliveries.map((row) => row.uid)
      )
      const deleted = await api.delete(`/api/webhooks/${endpoint.id}/`).bearerToken(owner)
      deleted.assertStatus(204)
    } finally {
      await receiver.close()
    }
  })

  test('tenant migrations with index statements apply, roll back and apply again', async ({
    assert,
  }) => {
    const tenants = [await register(assert), await register(assert)]
    const fixture = await tenantMigrationsFixture({
      '9002_index_changes.ts': `import { BaseSchema } from '@adonisjs/lucid/schema'
export default class extends BaseSchema {
  async up() {
    this.schema.alterTable('products', (table) => {
      table.string('barcode', 32).nullable()
    })
    this.schema.raw('create index products_barcode_index on products (barcode)')
    this.schema.raw('alter index products_barcode_index rename to products_barcode_idx')
    this.schema.raw('reindex index products_barcode_idx')
    this.schema.raw("comment on column products.barcode is 'EAN-13; optional'")
  }
  async down() {
    this.schema.raw('drop index products_barcode_idx')
    this.schema.alterTable('products', (table) => {
      table.dropColumn('barcode')
    })
  }
}
`,
    })
    const url = new URL(citusUrl()!)
    db.manager.add('citus', {
      client: 'pg',
      connection: {
        host: url.hostname,
        port: Number(url.port || 5432),
        user: decodeURIComponent(url.username || 'postgres'),
        password: decodeURIComponent(url.password),
        database: cluster.database,
      },
      pool: { min: 0, max: 4 },
    })
    try {
      const migrator = new TenantMigrator({ directory: fixture.directory, connection: 'citus' })
      const ids = tenants.map((tenant) => tenant.tenant.id)
      const indexesOf = async (id: number) => {
        const [node] = await nodeOf(id)
        const [host, port] = node.split(':')
        const rows = await cluster.queryWorker(
          { host, port: Number(port) },
          `select indexname from pg_indexes where schemaname = $1 and indexname like 'products\\_barcode%'`,
          [`tenant_${id}`]
        )
        return rows.map((row) => row.indexname)
      }

      const up = await migrator.migrate({ tenantIds: ids })
      assert.deepEqual(up.failed, [])
      assert.deepEqual(up.succeeded, ids)
      for (const id of ids) {
        // On the worker: the index of the table's metadata shell, and the
        // shard's own, named with the shard id.
        const names = await indexesOf(id)
        assert.lengthOf(names, 2, names.join(', '))
        assert.include(names, 'products_barcode_idx')
        assert.isTrue(
          names.some((name) => /^products_barcode_idx_[0-9]+$/.test(name)),
          names.join(', ')
        )
      }

      const down = await migrator.rollback({ tenantIds: ids })
      assert.deepEqual(down.failed, [])
      for (const id of ids) assert.deepEqual(await indexesOf(id), [])

      const again = await migrator.migrate({ tenantIds: ids })
      assert.deepEqual(again.failed, [])
      const [row] = await cluster.query(
        `select array_agg(distinct migration_version) as versions from public.tenants where id = any($1)`,
        [ids]
      )
      assert.deepEqual(row.versions, ['9002_index_changes'])
    } finally {
      await db.manager.close('citus')
      db.manager.release('citus')
      await fixture.remove()
    }
  })

  test('tenants:placement shows each tenant on its worker, with sizes', async ({ assert }) => {
    const { tenant } = await register(assert)
    const result = await runAce(['tenants:placement', '--json'], cluster.env)
    assert.equal(result.code, 0, result.output)
    const line = result.output.split('\n').find((text) => text.startsWith('{'))!
    const report = JSON.parse(line)
    assert.match(report.citus, /^13\./)
    const placement = report.placements.find(
      (row: { tenantId: number }) => row.tenantId === tenant.id
    )
    const [node] = await nodeOf(tenant.id)
    assert.equal(placement.node, node)
    assert.isTrue(placement.distributed)
    const tables = await tablesOf(tenant.id)
    assert.equal(placement.tables, tables.length)
    assert.isAbove(placement.bytes, 0)
  })

  test('tenants:drop removes the distributed schema and the platform rows', async ({ assert }) => {
    const { tenant } = await register(assert)
    const result = await runAce(['tenants:drop', String(tenant.id), '--force'], cluster.env)
    assert.equal(result.code, 0, result.output)
    assert.deepEqual(
      await cluster.query(`select 1 from public.tenants where id = $1`, [tenant.id]),
      []
    )
    assert.deepEqual(
      await cluster.query(`select 1 from pg_namespace where nspname = $1`, [`tenant_${tenant.id}`]),
      []
    )
    assert.deepEqual(await nodeOf(tenant.id), [])
    for (const node of cluster.workers) {
      assert.deepEqual(
        await cluster.queryWorker(node, `select 1 from pg_namespace where nspname = $1`, [
          `tenant_${tenant.id}`,
        ]),
        []
      )
    }
  })

  test('tenants:move moves a live tenant between workers; no request fails meanwhile', async ({
    assert,
  }) => {
    const { access: owner, tenant } = await register(assert)
    const customer = await registerCustomer(assert, tenant.slug)
    const api = client(assert)
    const product = await createProduct(assert, owner, 100_000)

    const [before] = await nodeOf(tenant.id)
    const target = cluster.workers
      .map((node) => `${node.host}:${node.port}`)
      .find((node) => node !== before)!

    const failures: string[] = []
    const statuses: number[] = []
    let stop = false
    let orders = 0
    const load = async (lane: number) => {
      let step = 0
      while (!stop) {
        step++
        const request =
          step % 3 === 0
            ? api.get('/api/products/').bearerToken(customer)
            : step % 3 === 1
              ? api
                  .post('/api/orders/')
                  .bearerToken(customer)
                  .json({ items: [{ product_id: product.id, qty: 1 }] })
              : api
                  .post(`/api/products/${product.id}/stock-adjustments/`)
                  .bearerToken(owner)
                  .json({ delta: 1, reason: `lane ${lane}` })
        const response = await request
        statuses.push(response.status())
        if (response.status() >= 400) failures.push(`${response.status()} ${response.text()}`)
        if (step % 3 === 1 && response.status() === 202) orders++
      }
    }
    const lanes = [load(1), load(2)]
    await new Promise((resolve) => setTimeout(resolve, 500))
    const beforeMove = statuses.length
    const moved = await runAce(['tenants:move', String(tenant.id), target], cluster.env)
    const duringMove = statuses.length - beforeMove
    await new Promise((resolve) => setTimeout(resolve, 500))
    stop = true
    await Promise.all(lanes)

    assert.equal(moved.code, 0, moved.output)
    assert.include(moved.output, `to ${target}`)
    assert.deepEqual(await nodeOf(tenant.id), [target])
    assert.deepEqual(failures, [])
    // Requests were answered while the schema was being moved.
    assert.isAbove(duringMove, 0)

    // Every order and adjustment placed during the move is processed.
    const pending = await eventually(
      async () => {
        const [row] = await cluster.query(
          `select (select count(*) from "tenant_${tenant.id}".orders where status = 'pending')::int +
                  (select count(*) from "tenant_${tenant.id}".stock_adjustments where status = 'pending')::int as n`
        )
        return row.n as number
      },
      (n) => n === 0
    )
    assert.equal(pending, 0)
    const [counts] = await cluster.query(
      `select count(*)::int as orders from "tenant_${tenant.id}".orders where status = 'confirmed'`
    )
    assert.equal(counts.orders, orders)
    const ledger = await ledgerAgrees(tenant.id, product.id)
    assert.equal(ledger.stock, ledger.ledger)
  })
})
