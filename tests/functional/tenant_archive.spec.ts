import { createHash } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import app from '@adonisjs/core/services/app'
import ace from '@adonisjs/core/services/ace'
import db from '#tests/support/platform_db'
import { confirmOrder } from '#jobs/confirm_order'
import { applyAdjustment } from '#jobs/apply_adjustment'
import { restoreStock } from '#jobs/restore_stock'
import { login, registerTenant, uniqueName } from '#tests/support/auth'
import { runCommand } from '#tests/support/commands'
import { givenTenant } from '#tests/support/fixtures'
import { tenantMigrationsFixture } from '#tests/support/tenancy'
import { TenantImporter } from '#tenancy/tenant_importer'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'
import { TenantPool } from '#tenancy/tenant_pool'
import { tenantMigrations } from '#tenancy/tenant_migrations'

/**
 * tenants:export and tenants:import: a store with products, customers,
 * orders in every state, adjustments and its ledger goes out to an
 * archive, is dropped, comes back as a new tenant, and answers exactly as
 * before (user ids aside: users get new ids, mapped by username).
 */
const directory = app.makePath('tmp', `archives_${process.pid}`)
let files = 0
const archivePath = () => `${directory}/store_${++files}.tenant.gz`

async function pages(client: ApiClient, token: string, path: string) {
  const items: any[] = []
  for (let page = 1; ; page++) {
    const separator = path.includes('?') ? '&' : '?'
    const response = await client
      .get(`${path}${separator}page=${page}&per_page=100`)
      .bearerToken(token)
    response.assertStatus(200)
    const body = response.body()
    items.push(...body.data)
    if (page >= body.meta.last_page) return items
  }
}

async function snapshot(client: ApiClient, token: string) {
  const products = await pages(client, token, '/api/products/')
  const orders = await pages(client, token, '/api/orders/')
  const details = []
  for (const order of orders) {
    const response = await client.get(`/api/orders/${order.id}/`).bearerToken(token)
    response.assertStatus(200)
    details.push(response.body())
  }
  const movements: Record<number, any[]> = {}
  const adjustments: Record<number, any[]> = {}
  for (const product of products) {
    movements[product.id] = await pages(
      client,
      token,
      `/api/products/${product.id}/stock-movements/`
    )
    adjustments[product.id] = await pages(
      client,
      token,
      `/api/products/${product.id}/stock-adjustments/`
    )
  }
  // A user's own id is platform-wide: it changes on import (mapped by username below).
  const accounts = await pages(client, token, '/api/users/')
  const users = accounts.map((user) => ({
    ...user,
    user_id: user.id,
    id: undefined,
  }))
  return { products, orders, details, movements, adjustments, users }
}

async function ledger(schema: string) {
  const { rows } = await db.rawQuery(
    `select p.id, p.stock, coalesce(sum(m.delta), 0)::int as total, count(m.id)::int as movements
     from "${schema}".products p left join "${schema}".stock_movements m on m.product_id = p.id
     group by p.id order by p.id`
  )
  return rows
}

/**
 * Replaces every user id in a value by the user's username (ids are
 * platform-wide and change on import; usernames do not).
 */
function byUsername(value: unknown, names: Map<number, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => byUsername(item, names))
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        if (
          ['customer_id', 'assigned_to', 'requested_by', 'user_id'].includes(key) &&
          typeof item === 'number'
        ) {
          return [key, names.get(item) ?? `unknown ${item}`]
        }
        return [key, byUsername(item, names)]
      })
    )
  }
  return value
}

async function usernames(tenantId: number) {
  const { rows } = await db.rawQuery('select id, username from public.users where tenant_id = ?', [
    tenantId,
  ])
  return new Map<number, string>(
    rows.map((row: { id: number; username: string }) => [row.id, row.username])
  )
}

async function tenantIdByName(name: string): Promise<number | undefined> {
  const { rows } = await db.rawQuery('select id from public.tenants where name = ?', [name])
  return rows[0]?.id
}

/**
 * Rewrites an archive's lines with `edit` (section: null for the header,
 * else the section the line belongs to) and recomputes every digest, as a
 * hand that knows the format would: what is left to refuse it is the
 * database or the version check.
 */
function resign(text: string, edit: (line: string, section: string | null) => string) {
  const lines = text.trimEnd().split('\n').slice(0, -1)
  const out: string[] = []
  let section: string | null = null
  let sectionHash = createHash('sha256')
  const whole = createHash('sha256')
  const push = (line: string) => {
    out.push(line)
    whole.update(`${line}\n`)
  }
  for (const [index, original] of lines.entries()) {
    const value = JSON.parse(original)
    if (index === 0) {
      push(edit(original, null))
    } else if (value.section) {
      section = value.section
      sectionHash = createHash('sha256').update(`${original}\n`)
      push(original)
    } else if (value.end) {
      push(JSON.stringify({ ...value, sha256: sectionHash.digest('hex') }))
      section = null
    } else {
      const line = edit(original, section)
      sectionHash.update(`${line}\n`)
      push(line)
    }
  }
  out.push(JSON.stringify({ end: 'archive', sha256: whole.digest('hex') }))
  return `${out.join('\n')}\n`
}

async function writeArchive(file: string, text: string) {
  await writeFile(file, gzipSync(text))
}

/**
 * A store with a bit of everything, through the API and the real job
 * handlers.
 */
async function givenBusyStore(client: ApiClient) {
  const store = await registerTenant(client)
  const token = store.access
  const product = async (index: number, stock: number) => {
    const response = await client
      .post('/api/products/')
      .bearerToken(token)
      .json({
        name: `Item ${index} "quoted" é`,
        sku: `ARC-${index}`,
        price: `${index}.25`,
        stock,
        description: `line one\nline two ${index}`,
      })
    response.assertStatus(201)
    return response.body().id as number
  }
  const products = []
  for (let index = 1; index <= 7; index++) products.push(await product(index, 10 + index))

  const staff = await client
    .post('/api/users/')
    .bearerToken(token)
    .json({
      username: uniqueName('staff'),
      email: `${uniqueName('staff')}@example.com`,
      password: 'staff-password-1',
      role: 'staff',
    })
  staff.assertStatus(201)

  const customers = []
  for (let index = 0; index < 2; index++) {
    const username = uniqueName('customer')
    const response = await client
      .post('/api/auth/register/customer/')
      .header('x-forwarded-for', `10.9.${index}.${files + 1}`)
      .json({
        store: store.tenant.slug,
        username,
        email: `${username}@example.com`,
        password: 'customer-pass-1',
      })
    response.assertStatus(201)
    customers.push(response.body())
  }

  const orders: number[] = []
  for (const [index, customer] of customers.entries()) {
    for (let n = 0; n < 3; n++) {
      const response = await client
        .post('/api/orders/')
        .bearerToken(customer.access)
        .json({
          items: [
            { product_id: products[n], qty: 1 + index },
            { product_id: products[n + 3], qty: 2 },
          ],
        })
      response.assertStatus(202)
      orders.push(response.body().id)
    }
  }
  const tenantId = store.tenant.id
  // Confirm most, leave one pending (with its outbox row), cancel one.
  for (const orderId of orders.slice(0, -1)) await confirmOrder({ tenantId, refId: orderId })
  const cancel = await client.post(`/api/orders/${orders[0]}/cancel/`).bearerToken(token)
  cancel.assertStatus(200)
  await restoreStock({ tenantId, refId: orders[0] })

  const adjustment = await client
    .post(`/api/products/${products[6]}/stock-adjustments/`)
    .bearerToken(token)
    .json({ delta: -4, reason: 'broken in transit' })
  adjustment.assertStatus(202)
  await applyAdjustment({ tenantId, refId: adjustment.body().id })
  const pending = await client
    .post(`/api/products/${products[5]}/stock-adjustments/`)
    .bearerToken(token)
    .json({ delta: 3, reason: 'found in the back' })
  pending.assertStatus(202)

  return { store, token, products }
}

test.group('tenants:export and tenants:import', (group) => {
  group.setup(async () => {
    ace.ui.switchMode('raw')
    await mkdir(directory, { recursive: true })
    return async () => {
      ace.ui.switchMode('normal')
      await rm(directory, { recursive: true, force: true })
    }
  })

  test('export, drop, import: the owner logs in with the same password and everything is as before', async ({
    client,
    assert,
  }) => {
    const { store, token } = await givenBusyStore(client)
    const before = await snapshot(client, token)
    const beforeNames = await usernames(store.tenant.id)
    const beforeLedger = await ledger(`tenant_${store.tenant.id}`)
    const { rows: outbox } = await db.rawQuery(
      `select job, ref_id from "tenant_${store.tenant.id}".outbox order by id`
    )
    assert.isNotEmpty(outbox)

    const file = archivePath()
    const exported = await runCommand('tenants:export', [String(store.tenant.id), '--out', file])
    assert.equal(exported.exitCode, 0, exported.output)
    assert.match(exported.output, /Exported tenant \d+ to .*: \d+ rows of \d+ tables, 4 users/)

    // The archive is documented NDJSON with its header first.
    const lines = gunzipSync(await readFile(file))
      .toString('utf8')
      .trimEnd()
      .split('\n')
    const header = JSON.parse(lines[0])
    assert.equal(header.format, 'tenant-commerce-archive')
    assert.equal(header.version, 1)
    assert.includeMembers(
      header.sections.map((section: any) => section.name),
      [
        'tenant',
        'users',
        'products',
        'orders',
        'order_items',
        'stock_movements',
        'stock_adjustments',
        'outbox',
        'idempotency_keys',
      ]
    )
    assert.notInclude(lines.join('\n'), 'refresh')
    assert.notInclude(lines.join('\n'), 'auth_sessions')

    const dropped = await runCommand('tenants:drop', [String(store.tenant.id), '--force'])
    assert.equal(dropped.exitCode, 0, dropped.output)
    const gone = await login(client, store.user.username, store.password)
    gone.assertStatus(401)

    const imported = await runCommand('tenants:import', [file])
    assert.equal(imported.exitCode, 0, imported.output)
    const newId = (await tenantIdByName(store.tenant.name))!
    assert.notEqual(newId, store.tenant.id)

    const signedIn = await login(client, store.user.username, store.password)
    signedIn.assertStatus(200)
    assert.equal(signedIn.body().tenant.id, newId)
    const after = await snapshot(client, signedIn.body().access)
    const afterNames = await usernames(newId)
    assert.deepEqual([...afterNames.values()].sort(), [...beforeNames.values()].sort())
    assert.deepEqual(byUsername(after, afterNames), byUsername(before, beforeNames))
    assert.deepEqual(await ledger(`tenant_${newId}`), beforeLedger)
    for (const row of beforeLedger) assert.equal(row.stock, row.total)

    // Pending work carries on: the outbox came along.
    const { rows: newOutbox } = await db.rawQuery(
      `select job, ref_id from "tenant_${newId}".outbox order by id`
    )
    assert.deepEqual(newOutbox, outbox)

    // Sequences are past the imported ids: a new product gets the next id.
    const maxId = Math.max(...before.products.map((product: any) => product.id))
    const created = await client
      .post('/api/products/')
      .bearerToken(signedIn.body().access)
      .json({ name: 'After import', sku: 'ARC-NEW', price: '1.00', stock: 1 })
    created.assertStatus(201)
    assert.equal(created.body().id, maxId + 1)
  })

  test('an altered archive is refused with a clear message and nothing is imported', async ({
    client,
    assert,
  }) => {
    const { store } = await givenBusyStore(client)
    const file = archivePath()
    const exported = await runCommand('tenants:export', [String(store.tenant.id), '--out', file])
    assert.equal(exported.exitCode, 0, exported.output)
    await runCommand('tenants:drop', [String(store.tenant.id), '--force'])
    const original = gunzipSync(await readFile(file)).toString('utf8')

    const alterations: [string, (text: string) => string, RegExp][] = [
      [
        'a price changed',
        (text) => text.replace('"7.25"', '"0.25"'),
        /digest of section "products" does not match/,
      ],
      [
        'a row removed',
        (text) => text.replace(/\n\["3","Item 3[^\n]*\]/, ''),
        /section "products" has 6 rows, its header says 7/,
      ],
      [
        'the header count changed too',
        (text) =>
          text
            .replace(/\n\["3","Item 3[^\n]*\]/, '')
            .replace(/("name":"products","kind":"table","rows":)7/, '$16'),
        /section "products" has 6 rows|digest of section "products" does not match|its digest does not match/,
      ],
      [
        'truncated',
        (text) => text.split('\n').slice(0, 5).join('\n') + '\n',
        /ends after|truncated|does not have/,
      ],
      ['not JSON', (text) => text.replace('"tenant"', '"tenant'), /is not JSON/],
    ]
    for (const [label, alter, message] of alterations) {
      const altered = archivePath()
      const text = alter(original)
      assert.notEqual(text, original, label)
      await writeFile(altered, gzipSync(text))
      const result = await runCommand('tenants:import', [altered])
      assert.equal(result.exitCode, 1, label)
      assert.match(result.errors.join('\n'), message, label)
      assert.match(result.errors.join('\n'), /^Archive refused: /, label)
      assert.isUndefined(await tenantIdByName(store.tenant.name), label)
    }
    const { rows } = await db.rawQuery('select 1 from public.users where username = ?', [
      store.user.username,
    ])
    assert.lengthOf(rows, 0)
    // Not gzip at all.
    const plain = archivePath()
    await writeFile(plain, original)
    const notGzip = await runCommand('tenants:import', [plain])
    assert.equal(notGzip.exitCode, 1)
    assert.match(notGzip.errors.join('\n'), /Archive refused: cannot read it as gzip/)

    // The untouched archive still imports.
    const ok = await runCommand('tenants:import', [file])
    assert.equal(ok.exitCode, 0, ok.output)
  })

  test('a row the schema refuses, late in the archive, rolls the whole import back', async ({
    client,
    assert,
  }) => {
    const { store } = await givenBusyStore(client)
    const file = archivePath()
    await runCommand('tenants:export', [String(store.tenant.id), '--out', file])
    await runCommand('tenants:drop', [String(store.tenant.id), '--force'])
    // Digests recomputed, so only the database can refuse it: a movement of
    // a product that does not exist (after users, products and orders are in).
    const broken = archivePath()
    await writeArchive(
      broken,
      resign(gunzipSync(await readFile(file)).toString('utf8'), (line, section) =>
        section === 'stock_movements' && line.startsWith('[')
          ? line.replace(/^\["(\d+)","(\d+)"/, '["$1","999999"')
          : line
      )
    )
    const result = await runCommand('tenants:import', [broken])
    assert.equal(result.exitCode, 1)
    assert.match(
      result.errors.join('\n'),
      /^Archive refused: rows of "stock_movements" do not fit the schema \(.*\); nothing was imported$/
    )
    assert.isUndefined(await tenantIdByName(store.tenant.name))
    const { rows } = await db.rawQuery(
      `select nspname from pg_namespace where nspname ~ '^tenant_[0-9]+$'
       and not exists (select 1 from public.tenants t where t.schema_name = nspname)`
    )
    assert.deepEqual(rows, [])
    const { rows: users } = await db.rawQuery('select 1 from public.users where username = ?', [
      store.user.username,
    ])
    assert.lengthOf(users, 0)
  })

  test('taken names fail the whole import, each conflict named', async ({ client, assert }) => {
    const { store } = await givenBusyStore(client)
    const file = archivePath()
    await runCommand('tenants:export', [String(store.tenant.id), '--out', file])
    // The store still exists: its name, usernames and emails are all taken.
    const result = await runCommand('tenants:import', [file])
    assert.equal(result.exitCode, 1)
    const message = result.errors.join('\n')
    assert.include(message, `store name "${store.tenant.name}" is already taken`)
    assert.include(message, `username "${store.user.username}" is already taken`)
    assert.include(message, `email "${store.user.email}" is already taken`)
    assert.equal((message.match(/username "/g) ?? []).length, 4)
    const { rows } = await db.rawQuery(
      'select count(*)::int as n from public.tenants where lower(name) = lower(?)',
      [store.tenant.name]
    )
    assert.equal(rows[0].n, 1)

    // Another name alone is not enough: the users are still taken.
    const renamed = await runCommand('tenants:import', [
      file,
      '--name',
      `${store.tenant.name} copy`,
    ])
    assert.equal(renamed.exitCode, 1)
    assert.notInclude(renamed.errors.join('\n'), 'store name')
    assert.include(renamed.errors.join('\n'), `username "${store.user.username}" is already taken`)
    assert.isUndefined(await tenantIdByName(`${store.tenant.name} copy`))
  })

  test('an archive from an older tenant migration is upgraded; one from an unknown migration is refused', async ({
    client,
    assert,
  }) => {
    const { store } = await givenBusyStore(client)
    const file = archivePath()
    await runCommand('tenants:export', [String(store.tenant.id), '--out', file])
    await runCommand('tenants:drop', [String(store.tenant.id), '--force'])

    // From a newer release: refused before anything is written.
    const newer = archivePath()
    await writeArchive(
      newer,
      resign(gunzipSync(await readFile(file)).toString('utf8'), (line, section) => {
        if (section !== null) return line
        const header = JSON.parse(line)
        header.tenant_migration = '9999_from_a_newer_release'
        header.migrations.push('9999_from_a_newer_release')
        return JSON.stringify(header)
      })
    )
    const refused = await runCommand('tenants:import', [newer])
    assert.equal(refused.exitCode, 1)
    assert.match(
      refused.errors.join('\n'),
      /Archive refused: it is at tenant migration "9999_from_a_newer_release", which this application does not have/
    )
    assert.isUndefined(await tenantIdByName(store.tenant.name))

    // An application one migration ahead of the archive upgrades it.
    const fixture = await tenantMigrationsFixture({
      '9000_add_archive_column.ts': `import { BaseSchema } from '@adonisjs/lucid/schema'
export default class extends BaseSchema {
  async up() { this.schema.raw("alter table products add column archive_note text not null default 'upgraded'") }
  async down() { this.schema.raw('alter table products drop column archive_note') }
}
`,
    })
    try {
      const result = await new TenantImporter(undefined, { directory: fixture.directory }).import(
        file
      )
      assert.deepEqual(result.upgraded, ['9000_add_archive_column'])
      const schema = result.tenant.schemaName
      const { rows } = await db.rawQuery(`select distinct archive_note from "${schema}".products`)
      assert.deepEqual(rows, [{ archive_note: 'upgraded' }])
      const appMigrations = await tenantMigrations()
      const { rows: ledgerRows } = await db.rawQuery(
        `select name from "${schema}".schema_migrations order by name`
      )
      assert.deepEqual(
        ledgerRows.map((row: { name: string }) => row.name),
        [...appMigrations.map((m) => m.name), '9000_add_archive_column']
      )
      const { rows: mirror } = await db.rawQuery(
        'select migration_version from public.tenants where id = ?',
        [result.tenant.id]
      )
      assert.equal(mirror[0].migration_version, '9000_add_archive_column')
      const { rows: count } = await db.rawQuery(
        `select count(*)::int as n from "${schema}".products`
      )
      assert.equal(count[0].n, 7)
      await runCommand('tenants:drop', [String(result.tenant.id), '--force'])
    } finally {
      await fixture.remove()
    }
  })

  test('an imported tenant at the latest migration takes a spare of the pool', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    const file = archivePath()
    await runCommand('tenants:export', [String(tenant.id), '--out', file])
    await runCommand('tenants:drop', [String(tenant.id), '--force'])
    const pool = new TenantPool({ size: 1 })
    await pool.empty()
    await pool.fill()
    try {
      const result = await new TenantImporter(
        new TenantProvisioner(undefined, new TenantPool({ size: 0 }))
      ).import(file)
      assert.equal(result.tenant.name, tenant.name)
      const status = await pool.status()
      assert.equal(status.total, 0)
    } finally {
      await pool.empty()
    }
  })

  test('tenants:list --json prints every tenant as JSON', async ({ assert }) => {
    const tenant = await givenTenant()
    const result = await runCommand('tenants:list', ['--json'])
    assert.equal(result.exitCode, 0)
    const tenants = JSON.parse(result.stdout.join('\n'))
    const row = tenants.find((item: any) => item.id === tenant.id)
    assert.deepInclude(row, {
      id: tenant.id,
      name: tenant.name,
      slug: tenant.slug,
      status: 'active',
      schemaName: tenant.schemaName,
    })
    assert.isString(row.migrationVersion)
  })
})
