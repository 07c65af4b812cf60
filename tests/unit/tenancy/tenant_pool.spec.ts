import { test } from '@japa/runner'
import ace from '@adonisjs/core/services/ace'
import db from '#tests/support/platform_db'
import { TenantPool } from '#tenancy/tenant_pool'
import { TenantProvisioner, type ProvisionStep } from '#tenancy/tenant_provisioner'
import { tenantMigrations } from '#tenancy/tenant_migrations'
import { spareSchema, tenantSchema } from '#tenancy/schema'
import {
  closePoolQueue,
  poolQueue,
  refillSchedule,
  requestPoolRefill,
  startPoolRefill,
} from '#queue/pool_refill'
import { fixturePasswordHash } from '#tests/support/fixtures'
import { eventually } from '#tests/support/orders'
import { runCommand } from '#tests/support/commands'
import { dropTenants, tenantMigrationsFixture } from '#tests/support/tenancy'
import { runtimeRole } from '#config/database'
import { ensureRuntimeRole } from '#tenancy/runtime_role'
import { withTenant } from '#tenancy/context'

let counter = 0
async function signUp(pool: TenantPool, afterStep?: (step: ProvisionStep) => void) {
  const n = `${process.pid}x${Date.now().toString(36)}x${++counter}`
  return new TenantProvisioner(afterStep, pool).provision({
    name: `Pool store ${n}`,
    owner: {
      username: `pool${n}`,
      email: `pool${n}@example.com`,
      passwordHash: await fixturePasswordHash(),
    },
  })
}

async function spares(): Promise<{ id: number; migration_version: string | null }[]> {
  const { rows } = await db.rawQuery(
    'select id, migration_version from public.tenant_spares order by id'
  )
  return rows
}

async function spareCount() {
  const rows = await spares()
  return rows.length
}

async function schemaExists(name: string) {
  const { rows } = await db.rawQuery('select 1 from pg_namespace where nspname = ?', [name])
  return rows.length === 1
}

async function ledger(schema: string): Promise<string[]> {
  const { rows } = await db.rawQuery(`select name from "${schema}".schema_migrations order by name`)
  return rows.map((row: { name: string }) => row.name)
}

async function tables(schema: string): Promise<string[]> {
  const { rows } = await db.rawQuery(
    `select table_name from information_schema.tables where table_schema = ? order by 1`,
    [schema]
  )
  return rows.map((row: { table_name: string }) => row.table_name)
}

async function latest() {
  const migrations = await tenantMigrations()
  return migrations.at(-1)!.name
}

async function allNames() {
  const migrations = await tenantMigrations()
  return migrations.map((migration) => migration.name)
}

test.group('Pool of ready tenant schemas', (group) => {
  const created: number[] = []
  group.setup(() => {
    ace.ui.switchMode('raw')
    return () => ace.ui.switchMode('normal')
  })
  group.each.setup(async () => {
    await new TenantPool().empty()
    return async () => {
      await new TenantPool().empty()
      await dropTenants(created.splice(0))
    }
  })
  group.teardown(() => closePoolQueue())

  test('a spare is complete: every tenant table, its own ledger, at the latest version', async ({
    assert,
  }) => {
    const pool = new TenantPool({ size: 1 })
    const [id] = await pool.fill()
    const schema = spareSchema(id)
    assert.isTrue(await schemaExists(schema))
    assert.includeMembers(await tables(schema), [
      'products',
      'orders',
      'outbox',
      'schema_migrations',
    ])
    assert.deepEqual(await ledger(schema), await allNames())
    assert.deepEqual(await spares(), [{ id, migration_version: await latest() }])
    // Filling again adds nothing: the pool is full.
    assert.deepEqual(await pool.fill(), [])
  })

  test('sign-up claims a ready spare and renames it; with the pool empty it builds', async ({
    assert,
  }) => {
    const pool = new TenantPool({ size: 1 })
    const [spareId] = await pool.fill()
    // A product in the spare tells the schema was renamed, not rebuilt.
    await db.rawQuery(`comment on schema "${spareSchema(spareId)}" is 'marked'`)

    const claimed = await signUp(pool)
    created.push(claimed.tenant.id)
    assert.equal(claimed.schema, 'claimed')
    const schema = tenantSchema(claimed.tenant.id)
    assert.isFalse(await schemaExists(spareSchema(spareId)))
    assert.isTrue(await schemaExists(schema))
    const { rows } = await db.rawQuery(
      `select obj_description(oid, 'pg_namespace') as comment from pg_namespace where nspname = ?`,
      [schema]
    )
    assert.equal(rows[0].comment, 'marked')
    assert.deepEqual(await ledger(schema), await allNames())
    const { rows: tenant } = await db.rawQuery(
      'select migration_version from public.tenants where id = ?',
      [claimed.tenant.id]
    )
    assert.equal(tenant[0].migration_version, await latest())
    assert.deepEqual(await spares(), [])

    const built = await signUp(pool)
    created.push(built.tenant.id)
    assert.equal(built.schema, 'built')
    assert.includeMembers(await tables(tenantSchema(built.tenant.id)), ['products', 'orders'])
  })

  test('concurrent sign-ups never claim the same spare', async ({ assert }) => {
    const pool = new TenantPool({ size: 3 })
    const built = await pool.fill()
    assert.lengthOf(built, 3)

    const results = await Promise.all(Array.from({ length: 6 }, () => signUp(pool)))
    created.push(...results.map((result) => result.tenant.id))
    assert.lengthOf(
      results.filter((result) => result.schema === 'claimed'),
      3
    )
    assert.lengthOf(
      results.filter((result) => result.schema === 'built'),
      3
    )
    for (const result of results) {
      assert.includeMembers(await tables(tenantSchema(result.tenant.id)), ['products'])
    }
    assert.deepEqual(await spares(), [])
    for (const id of built) assert.isFalse(await schemaExists(spareSchema(id)))
  })

  for (const step of ['schema', 'owner'] as ProvisionStep[]) {
    test('a sign-up failing after the claim ("{step}") leaves the spare in the pool, whole')
      .with([{ step }])
      .run(async ({ assert }, { step: failing }) => {
        const pool = new TenantPool({ size: 1 })
        const [spareId] = await pool.fill()
        const failed = await signUp(pool, (current) => {
          if (current === failing) throw new Error(`injected failure after ${current}`)
        }).catch((error) => error)
        assert.match(failed.message, /injected failure/)

        assert.deepEqual(await spares(), [{ id: spareId, migration_version: await latest() }])
        assert.isTrue(await schemaExists(spareSchema(spareId)))
        assert.deepEqual(await ledger(spareSchema(spareId)), await allNames())
        const { rows } = await db.rawQuery(
          `select nspname from pg_namespace where nspname ~ '^tenant_[0-9]+$'
           and not exists (select 1 from public.tenants t where t.schema_name = nspname)`
        )
        assert.deepEqual(rows, [])

        // The spare is still claimable.
        const next = await signUp(pool)
        created.push(next.tenant.id)
        assert.equal(next.schema, 'claimed')
      })
  }

  test('the refill job tops the pool up after a sign-up claims a spare', async ({ assert }) => {
    const pool = new TenantPool({ size: 2 })
    const handle = await startPoolRefill({ pool, intervalMs: 3_600_000 })
    try {
      await requestPoolRefill()
      await eventually(async () => (await spareCount()) === 2, { message: 'a full pool' })

      const claimed = await signUp(pool)
      created.push(claimed.tenant.id)
      assert.equal(claimed.schema, 'claimed')
      // The sign-up asked for a refill after committing; the worker builds one.
      await eventually(async () => (await spareCount()) === 2, { message: 'the pool refilled' })
      const refilled = await spares()
      assert.deepEqual(
        refilled.map((row) => row.migration_version),
        [await latest(), await latest()]
      )
    } finally {
      await handle.close()
      await new TenantPool({ size: 0 }).empty()
    }
  })

  test('the worker refills the pool on its own schedule; size 0 removes the schedule', async ({
    assert,
  }) => {
    // No job left over from another test: only the schedule can fill the pool.
    await poolQueue().obliterate({ force: true })
    const handle = await startPoolRefill({ pool: new TenantPool({ size: 2 }), intervalMs: 1_000 })
    try {
      const schedule = await refillSchedule()
      assert.equal(schedule?.every, 1_000)
      // No sign-up and no request: the schedule alone fills the pool.
      await eventually(async () => (await spareCount()) === 2, { message: 'a scheduled refill' })
    } finally {
      await handle.close()
    }
    const off = await startPoolRefill({ pool: new TenantPool({ size: 0 }) })
    await off.close()
    assert.isUndefined(await refillSchedule())
  })

  test('tenants:migrate migrates spares that are behind, each in its own ledger', async ({
    assert,
  }) => {
    const pool = new TenantPool({ size: 2 })
    const [behind, ready] = await pool.fill()
    // Revert the first spare to no migration at all, as an older release left it.
    const migrations = await tenantMigrations()
    const schema = spareSchema(behind)
    await db.transaction(async (trx) => {
      await trx.rawQuery(`select set_config('search_path', '"${schema}", public', true)`)
      for (const migration of [...migrations].reverse()) {
        for (const statement of migration.down.split(';\n')) await trx.rawQuery(statement)
      }
      await trx.rawQuery('delete from schema_migrations')
      await trx.rawQuery('update public.tenant_spares set migration_version = null where id = ?', [
        behind,
      ])
    })
    assert.notInclude(await tables(schema), 'products')

    const result = await runCommand('tenants:migrate')
    assert.equal(result.exitCode, 0, result.output)
    assert.include(result.output, 'Migrated 1 spare schema(s) of the pool')
    assert.includeMembers(await tables(schema), ['products', 'orders'])
    assert.deepEqual(
      await ledger(schema),
      migrations.map((m) => m.name)
    )
    assert.deepEqual(await spares(), [
      { id: behind, migration_version: await latest() },
      { id: ready, migration_version: await latest() },
    ])
  })

  test('a new tenant migration reaches the spares; a spare at an unknown version is dropped', async ({
    assert,
  }) => {
    const fixture = await tenantMigrationsFixture({
      '9002_add_spare_column.ts': `import { BaseSchema } from '@adonisjs/lucid/schema'
export default class extends BaseSchema {
  async up() { this.schema.raw('alter table products add column pool_note text') }
  async down() { this.schema.raw('alter table products drop column pool_note') }
}
`,
    })
    try {
      const pool = new TenantPool({ size: 2 })
      const [first, second] = await pool.fill()
      await db.rawQuery(
        `update public.tenant_spares set migration_version = '9999_from_the_future' where id = ?`,
        [second]
      )
      const result = await pool.migrate({ directory: fixture.directory })
      assert.deepEqual(result, { migrated: [first], secured: [], dropped: [second], failed: [] })
      const compiled = await tenantMigrations()
      const appMigrations = compiled.map((migration) => migration.name)
      assert.deepEqual(await ledger(spareSchema(first)), [
        ...appMigrations,
        '9002_add_spare_column',
      ])
      const { rows } = await db.rawQuery(
        `select 1 from information_schema.columns
         where table_schema = ? and table_name = 'products' and column_name = 'pool_note'`,
        [spareSchema(first)]
      )
      assert.lengthOf(rows, 1)
      assert.isFalse(await schemaExists(spareSchema(second)))
      assert.deepEqual(await spares(), [{ id: first, migration_version: '9002_add_spare_column' }])
      // Behind the application's latest now: not claimable; sign-up builds.
      const built = await signUp(new TenantPool({ size: 2 }))
      created.push(built.tenant.id)
      assert.equal(built.schema, 'built')
    } finally {
      await fixture.remove()
    }
  })

  test('a spare that is not secured (an older release built it) is claimed only once secured', async ({
    assert,
  }) => {
    const pool = new TenantPool({ size: 1 })
    const [spareId] = await pool.fill()
    const schema = spareSchema(spareId)
    // As a release before the schema-bound guard left it: no privilege, no policy.
    const { rows: tablesOf } = await db.rawQuery(
      `select c.relname from pg_class c where c.relnamespace = ?::regnamespace and c.relkind = 'r'`,
      [schema]
    )
    for (const { relname } of tablesOf) {
      await db.rawQuery(`drop policy tenant_guard on "${schema}"."${relname}"`)
      await db.rawQuery(`alter table "${schema}"."${relname}" disable row level security`)
      await db.rawQuery(`revoke all on "${schema}"."${relname}" from "${runtimeRole.user}"`)
    }
    await db.rawQuery('update public.tenant_spares set secured = false where id = ?', [spareId])
    const status = await pool.status()
    assert.equal(status.ready, 0)

    const built = await signUp(pool)
    created.push(built.tenant.id)
    assert.equal(built.schema, 'built')

    const result = await pool.migrate()
    assert.deepEqual(result, { migrated: [], secured: [spareId], dropped: [], failed: [] })
    const { rows } = await db.rawQuery(
      `select count(*)::int as tables,
              (count(*) filter (where c.relrowsecurity and p.oid is not null
                                 and has_table_privilege(?, c.oid, 'select')))::int as secured
       from pg_class c left join pg_policy p on p.polrelid = c.oid and p.polname = 'tenant_guard'
       where c.relnamespace = ?::regnamespace and c.relkind = 'r'`,
      [runtimeRole.user, schema]
    )
    assert.equal(rows[0].secured, rows[0].tables)
    assert.deepEqual(await pool.migrate(), { migrated: [], secured: [], dropped: [], failed: [] })

    const claimed = await signUp(pool)
    created.push(claimed.tenant.id)
    assert.equal(claimed.schema, 'claimed')
    const products = await withTenant(claimed.tenant.id, async (trx) => {
      await trx.rawQuery(`insert into products (name, sku, price, stock) values ('A', 'A-1', 1, 1)`)
      const { rows: found } = await trx.rawQuery('select sku from products')
      return found
    })
    assert.deepEqual(products, [{ sku: 'A-1' }])
  })

  test('a new runtime role makes every spare unclaimable until secured for it', async ({
    assert,
  }) => {
    const pool = new TenantPool({ size: 2 })
    const ids = await pool.fill()
    await db.rawQuery(`update tenancy.runtime set role_name = 'some_former_runtime_role'`)
    await ensureRuntimeRole(db)
    const { rows } = await db.rawQuery('select secured from public.tenant_spares order by id')
    assert.deepEqual(rows, [{ secured: false }, { secured: false }])
    const result = await pool.migrate()
    assert.deepEqual(result.secured, ids)
    const status = await pool.status()
    assert.equal(status.ready, 2)
  })

  test('tenants:pool shows the state, fills and empties the pool', async ({ assert }) => {
    const empty = await runCommand('tenants:pool')
    assert.equal(empty.exitCode, 0, empty.output)
    assert.include(empty.output, 'Pool: 0 ready of 0 spare(s)')

    const noSize = await runCommand('tenants:pool', ['--fill'])
    assert.equal(noSize.exitCode, 1)
    assert.match(noSize.errors.join('\n'), /pool size is 0/)

    const filled = await runCommand('tenants:pool', ['--fill', '--size', '3'])
    assert.equal(filled.exitCode, 0, filled.output)
    assert.include(filled.output, 'Built 3 spare schema(s)')
    assert.include(filled.output, 'Pool: 3 ready of 3 spare(s)')
    assert.lengthOf(await spares(), 3)

    const both = await runCommand('tenants:pool', ['--fill', '--empty'])
    assert.equal(both.exitCode, 1)

    const emptied = await runCommand('tenants:pool', ['--empty'])
    assert.equal(emptied.exitCode, 0, emptied.output)
    assert.include(emptied.output, 'Dropped 3 spare schema(s)')
    assert.include(emptied.output, 'Pool: 0 ready of 0 spare(s)')
    const { rows } = await db.rawQuery(
      `select nspname from pg_namespace where nspname like 'tenant\\_spare\\_%'`
    )
    assert.deepEqual(rows, [])
  })
})
