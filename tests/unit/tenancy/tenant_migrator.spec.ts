import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { TenantMigrator, type MigrationProgress } from '#tenancy/tenant_migrator'
import { tenantSchema } from '#tenancy/schema'
import { dropTenants, provisionTenants, tenantMigrationsFixture } from '#tests/support/tenancy'

/**
 * Two migrations after the application's own: 0002 creates a table and
 * adds a column (two statements, so a failure in the second proves the
 * first is rolled back too); 0003 is idempotent DDL, so only the ledger's
 * primary key can stop a double application, and has a "?" in a literal
 * (no placeholder rewriting on the way).
 */
const GIFT_CARDS = `import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  async up() {
    this.schema.createTable('gift_cards', (table) => {
      table.bigIncrements('id')
      table.string('code', 64).notNullable()
      table.bigInteger('order_id')
    })
    this.schema.alterTable('products', (table) => {
      table.bigInteger('gift_card_id')
    })
  }

  async down() {
    this.schema.alterTable('products', (table) => {
      table.dropColumn('gift_card_id')
    })
    this.schema.dropTable('gift_cards')
  }
}
`

const GIFT_CARDS_INDEX = `import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  async up() {
    this.schema.raw('create index if not exists gift_cards_order_index on gift_cards (order_id)')
    this.schema.raw("comment on index gift_cards_order_index is 'Which order? (reaches PostgreSQL as written)'")
  }

  async down() {
    this.schema.raw('drop index if exists gift_cards_order_index')
  }
}
`

/**
 * The application's own tenant migrations (V1 is the latest of them, the
 * version of a newly provisioned tenant), then the two of this test.
 */
const APP = [
  '0001_create_commerce_tables',
  '0002_create_webhook_tables',
  '0003_drop_products_assigned_to_index',
  '0004_webhook_deliveries_hot_updates',
]
const V1 = APP.at(-1)!
const V2 = '9002_create_gift_cards'
const V3 = '9003_index_gift_cards'
const TENANTS = 200

async function versions(ids: number[]): Promise<Map<number, string | null>> {
  const { rows } = await db.rawQuery(
    'select id, migration_version from public.tenants where id = any(?)',
    [ids]
  )
  return new Map(rows.map((row: any) => [row.id, row.migration_version]))
}

async function tableExists(tenantId: number, table: string) {
  const { rows } = await db.rawQuery('select to_regclass(?) is not null as present', [
    `"${tenantSchema(tenantId)}".${table}`,
  ])
  return rows[0].present as boolean
}

async function columnExists(tenantId: number, table: string, column: string) {
  const { rows } = await db.rawQuery(
    `select 1 from information_schema.columns
     where table_schema = ? and table_name = ? and column_name = ?`,
    [tenantSchema(tenantId), table, column]
  )
  return rows.length === 1
}

async function ledger(tenantId: number) {
  const { rows } = await db.rawQuery(
    `select name, batch from "${tenantSchema(tenantId)}".schema_migrations order by name`
  )
  return rows as { name: string; batch: number }[]
}

async function versionOf(id: number) {
  const all = await versions([id])
  return all.get(id)
}

async function ledgerNames(tenantId: number) {
  const rows = await ledger(tenantId)
  return rows.map((row) => row.name)
}

async function migrationNames(migrator: TenantMigrator) {
  const migrations = await migrator.migrations()
  return migrations.map((migration) => migration.name)
}

function countOf(map: Map<number, string | null>, version: string | null) {
  return [...map.values()].filter((value) => value === version).length
}

test.group('Tenant migrator', (group) => {
  let ids: number[] = []
  let broken = 0
  let fixture: Awaited<ReturnType<typeof tenantMigrationsFixture>>
  let migrator: TenantMigrator

  group.setup(async () => {
    fixture = await tenantMigrationsFixture({
      [`${V2}.ts`]: GIFT_CARDS,
      [`${V3}.ts`]: GIFT_CARDS_INDEX,
    })
    migrator = new TenantMigrator({ directory: fixture.directory })
    ids = await provisionTenants(TENANTS)
    broken = ids[17]
    return async () => {
      await dropTenants(ids)
      await fixture.remove()
    }
  })

  test('compiles the migrations of its own directory, apart from the application ones', async ({
    assert,
  }) => {
    assert.deepEqual(await migrationNames(migrator), [...APP, V2, V3])
    assert.deepEqual(await migrationNames(new TenantMigrator()), APP)
  })

  test('never runs more tenants at once than the pool has connections', ({ assert }) => {
    assert.equal(new TenantMigrator().concurrency, 8)
    assert.equal(new TenantMigrator({ concurrency: 3 }).concurrency, 3)
    assert.equal(new TenantMigrator({ concurrency: 500 }).concurrency, 8)
    assert.throws(() => new TenantMigrator({ concurrency: 0 }), /positive integer/)
    assert.equal(new TenantMigrator().batchSize, 25)
    assert.equal(new TenantMigrator({ batchSize: 4 }).batchSize, 4)
    assert.throws(
      () => new TenantMigrator({ batchSize: 0 }),
      /batch size must be a positive integer/
    )
  })

  test('status counts tenants per version and lists the ones behind', async ({ assert }) => {
    const status = await migrator.status()
    assert.equal(status.latest, V3)
    const v1 = status.versions.find((row) => row.version === V1)!
    assert.isAtLeast(v1.tenants, TENANTS)
    assert.isTrue(v1.known)
    const behind = new Set(status.behind.map((tenant) => tenant.tenantId))
    assert.isTrue(ids.every((id) => behind.has(id)))
    assert.equal(
      status.total,
      status.versions.reduce((sum, row) => sum + row.tenants, 0)
    )
  })

  test('a dry run plans every tenant that is behind and changes nothing', async ({ assert }) => {
    const result = await migrator.migrate({ dryRun: true })
    assert.isTrue(result.dryRun)
    const planned = new Map(result.plans.map((plan) => [plan.tenantId, plan]))
    for (const id of ids) {
      const plan = planned.get(id)!
      assert.equal(plan.version, V1)
      assert.equal(plan.target, V3)
      assert.deepEqual(
        plan.migrations.map((migration) => migration.name),
        [V2, V3]
      )
    }
    assert.deepEqual(result.succeeded, [])
    assert.deepEqual(result.failed, [])

    const sql = migrator.sql(planned.get(ids[0])!, 'up')
    assert.include(sql, `'"tenant_${ids[0]}", public'`)
    assert.include(sql, 'create table "gift_cards"')
    assert.include(sql, `set migration_version = '${V3}'`)

    assert.equal(countOf(await versions(ids), V1), TENANTS)
    assert.isFalse(await tableExists(ids[0], 'gift_cards'))
  })

  test('migrates a few hundred schemas; one failing tenant does not stop the others', async ({
    assert,
  }) => {
    // The second statement of 0002 collides in one schema.
    await db.rawQuery(`alter table "${tenantSchema(broken)}".products add column gift_card_id text`)

    const progress: MigrationProgress[] = []
    const result = await migrator.migrate({
      tenantIds: ids,
      onProgress: (update) => progress.push(update),
    })

    assert.lengthOf(result.plans, TENANTS)
    assert.lengthOf(result.succeeded, TENANTS - 1)
    assert.notInclude(result.succeeded, broken)
    assert.lengthOf(result.failed, 1)
    assert.equal(result.failed[0].tenantId, broken)
    assert.equal(result.failed[0].code, '42701')
    assert.match(result.failed[0].message, /gift_card_id/)
    assert.lengthOf(progress, TENANTS)
    assert.deepEqual(progress.at(-1), { done: TENANTS, total: TENANTS, failed: 1 })

    const after = await versions(ids)
    assert.equal(countOf(after, V3), TENANTS - 1)
    assert.equal(after.get(broken), V1)

    // The failing tenant moved not at all: 0002's first statement is undone.
    assert.isFalse(await tableExists(broken, 'gift_cards'))
    assert.deepEqual(await ledgerNames(broken), APP)
    // A migrated tenant has both migrations in its ledger, in a new batch.
    assert.deepEqual(await ledger(ids[0]), [
      ...APP.map((name) => ({ name, batch: 1 })),
      { name: V2, batch: 2 },
      { name: V3, batch: 2 },
    ])
    assert.isTrue(await tableExists(ids[0], 'gift_cards'))
    assert.isTrue(await columnExists(ids[0], 'products', 'gift_card_id'))
    const { rows } = await db.rawQuery('select obj_description(?::regclass) as comment', [
      `"${tenantSchema(ids[0])}".gift_cards_order_index`,
    ])
    assert.equal(rows[0].comment, 'Which order? (reaches PostgreSQL as written)')
  })

  test('running again finishes only the tenants left behind', async ({ assert }) => {
    await db.rawQuery(`alter table "${tenantSchema(broken)}".products drop column gift_card_id`)

    const result = await migrator.migrate({ tenantIds: ids })
    assert.deepEqual(
      result.plans.map((plan) => plan.tenantId),
      [broken]
    )
    assert.deepEqual(result.succeeded, [broken])
    assert.deepEqual(result.failed, [])
    assert.equal(countOf(await versions(ids), V3), TENANTS)
    assert.isTrue(await tableExists(broken, 'gift_cards'))

    const again = await migrator.migrate({ tenantIds: ids })
    assert.lengthOf(again.plans, 0)
  })

  test("the ledger's primary key refuses a double application", async ({ assert }) => {
    const tenant = ids[3]
    // The mirror lags behind the ledger: 0003 would be applied a second time.
    await db.rawQuery('update public.tenants set migration_version = ? where id = ?', [V2, tenant])

    const result = await migrator.migrate({ tenantIds: [tenant] })
    assert.lengthOf(result.failed, 1)
    assert.equal(result.failed[0].code, '23505')
    assert.equal(await versionOf(tenant), V2)
    assert.lengthOf(await ledger(tenant), APP.length + 2)

    await db.rawQuery('update public.tenants set migration_version = ? where id = ?', [V3, tenant])
  })

  test('a tenant at a version unknown to the migrations is reported, not touched', async ({
    assert,
  }) => {
    const tenant = ids[5]
    await db.rawQuery('update public.tenants set migration_version = ? where id = ?', [
      '0009_from_the_future',
      tenant,
    ])
    const result = await migrator.migrate({ tenantIds: [tenant] })
    assert.lengthOf(result.plans, 0)
    assert.lengthOf(result.failed, 1)
    assert.match(result.failed[0].message, /Unknown migration version "0009_from_the_future"/)
    await db.rawQuery('update public.tenants set migration_version = ? where id = ?', [V3, tenant])
  })

  test('rollback reverts the newest migration of each tenant, or --step of them', async ({
    assert,
  }) => {
    const one = await migrator.rollback({ tenantIds: ids })
    assert.lengthOf(one.succeeded, TENANTS)
    assert.equal(countOf(await versions(ids), V2), TENANTS)
    const { rows } = await db.rawQuery('select to_regclass(?) as index', [
      `"${tenantSchema(ids[0])}".gift_cards_order_index`,
    ])
    assert.isNull(rows[0].index)

    const two = await migrator.rollback({ tenantIds: ids })
    assert.lengthOf(two.succeeded, TENANTS)
    assert.equal(countOf(await versions(ids), V1), TENANTS)
    assert.isFalse(await tableExists(ids[0], 'gift_cards'))
    assert.isFalse(await columnExists(ids[0], 'products', 'gift_card_id'))
    assert.deepEqual(await ledgerNames(ids[0]), APP)

    const subset = ids.slice(0, 10)
    await migrator.migrate({ tenantIds: subset })
    const dry = await migrator.rollback({ tenantIds: subset, step: 2, dryRun: true })
    assert.deepEqual(
      dry.plans[0].migrations.map((migration) => migration.name),
      [V2, V3]
    )
    assert.equal(dry.plans[0].target, V1)
    assert.equal(countOf(await versions(subset), V3), 10)

    const stepped = await migrator.rollback({ tenantIds: subset, step: 2 })
    assert.lengthOf(stepped.succeeded, 10)
    assert.equal(countOf(await versions(subset), V1), 10)
    assert.isFalse(await tableExists(subset[0], 'gift_cards'))
  })

  test('rolling back the first migration empties the schema; migrating restores it', async ({
    assert,
  }) => {
    const tenant = ids[42]
    const down = await migrator.rollback({ tenantIds: [tenant], step: APP.length + 2 })
    assert.deepEqual(down.succeeded, [tenant])
    assert.isNull(await versionOf(tenant))
    assert.isFalse(await tableExists(tenant, 'products'))
    assert.deepEqual(await ledger(tenant), [])

    const nothing = await migrator.rollback({ tenantIds: [tenant] })
    assert.lengthOf(nothing.plans, 0)

    const up = await new TenantMigrator().migrate({ tenantIds: [tenant] })
    assert.deepEqual(up.succeeded, [tenant])
    assert.equal(await versionOf(tenant), V1)
    assert.isTrue(await tableExists(tenant, 'products'))
  })

  test('a batch whose middle schemas fail commits the others; running again resumes', async ({
    assert,
  }) => {
    // 12 tenants at V1 in batches of 4: [0 1 2 3] [4 5 6 7] [8 9 10 11].
    // Two neighbours in the middle of the first batch fail, then the last
    // of the second and the first of the third.
    const tenants = ids.slice(100, 112)
    const brokenOnes = [tenants[1], tenants[2], tenants[7], tenants[8]]
    assert.equal(countOf(await versions(tenants), V1), tenants.length)
    for (const id of brokenOnes) {
      await db.rawQuery(`alter table "${tenantSchema(id)}".products add column gift_card_id text`)
    }
    const batched = new TenantMigrator({
      directory: fixture.directory,
      batchSize: 4,
      concurrency: 2,
    })
    const progress: MigrationProgress[] = []
    const result = await batched.migrate({
      tenantIds: tenants,
      onProgress: (update) => progress.push(update),
    })

    const healthy = tenants.filter((id) => !brokenOnes.includes(id))
    assert.deepEqual(result.succeeded, healthy)
    assert.deepEqual(
      result.failed.map((failure) => failure.tenantId),
      brokenOnes
    )
    for (const failure of result.failed) {
      assert.equal(failure.code, '42701')
      assert.match(failure.message, /gift_card_id/)
    }
    assert.lengthOf(progress, tenants.length)
    assert.deepEqual(progress.at(-1), { done: 12, total: 12, failed: 4 })

    const after = await versions(tenants)
    for (const id of healthy) {
      assert.equal(after.get(id), V3)
      assert.deepEqual(await ledger(id), [
        ...APP.map((name) => ({ name, batch: 1 })),
        { name: V2, batch: 2 },
        { name: V3, batch: 2 },
      ])
      assert.isTrue(await tableExists(id, 'gift_cards'))
    }
    // A failed schema is untouched: no table, no ledger row, its version.
    for (const id of brokenOnes) {
      assert.equal(after.get(id), V1)
      assert.deepEqual(await ledgerNames(id), APP)
      assert.isFalse(await tableExists(id, 'gift_cards'))
    }

    for (const id of brokenOnes) {
      await db.rawQuery(`alter table "${tenantSchema(id)}".products drop column gift_card_id`)
    }
    const again = await batched.migrate({ tenantIds: tenants })
    assert.deepEqual(
      again.plans.map((plan) => plan.tenantId),
      brokenOnes
    )
    assert.deepEqual(again.succeeded, brokenOnes)
    assert.deepEqual(again.failed, [])
    assert.equal(countOf(await versions(tenants), V3), tenants.length)
    for (const id of brokenOnes) {
      assert.deepEqual(await ledgerNames(id), [...APP, V2, V3])
    }
  })
})
