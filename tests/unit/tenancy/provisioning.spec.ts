import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { TenantProvisioner, type ProvisionStep } from '#tenancy/tenant_provisioner'
import { tenantMigrations } from '#tenancy/tenant_migrations'
import { fixturePasswordHash, givenTenant } from '#tests/support/fixtures'

async function schemaExists(name: string) {
  const { rows } = await db.rawQuery('select 1 from pg_namespace where nspname = ?', [name])
  return rows.length === 1
}

test.group('Tenant provisioning / slugs', () => {
  async function provision(name: string) {
    const owner = `slug${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    const { tenant } = await new TenantProvisioner().provision({
      name,
      owner: {
        username: owner,
        email: `${owner}@example.com`,
        passwordHash: await fixturePasswordHash(),
      },
    })
    return tenant
  }

  test('a taken slug gets the next free suffix in one INSERT, not one probe per suffix', async ({
    assert,
  }) => {
    const word = `probe${Date.now().toString(36)}`
    const names = ['', '!', '?', '.', ',', ';'].map((mark) => `${word}${mark}`)
    const tenants = []
    for (const name of names) tenants.push(await provision(name))
    assert.deepEqual(
      tenants.map((tenant) => tenant.slug),
      [word, `${word}-2`, `${word}-3`, `${word}-4`, `${word}-5`, `${word}-6`]
    )
    // Every INSERT attempt draws an id, even one that hits ON CONFLICT: the
    // sixth tenant drew exactly one.
    assert.equal(tenants[5].id, tenants[4].id + 1)

    // Above the highest suffix in use, whatever the gaps.
    await db.rawQuery('update public.tenants set slug = ? where id = ?', [
      `${word}-40`,
      tenants[5].id,
    ])
    const next = await provision(`${word}:`)
    assert.equal(next.slug, `${word}-41`)
  })
})

test.group('Tenant provisioning', () => {
  test('creates the tenant row, its schema at the latest version, and its owner', async ({
    assert,
  }) => {
    const tenant = await givenTenant()
    assert.match(tenant.schemaName, /^tenant_[0-9]+$/)
    assert.equal(tenant.schemaName, `tenant_${tenant.id}`)
    assert.isTrue(await schemaExists(tenant.schemaName))

    const { rows: tables } = await db.rawQuery(
      `select table_name from information_schema.tables where table_schema = ? order by 1`,
      [tenant.schemaName]
    )
    assert.includeMembers(
      tables.map((row: any) => row.table_name),
      [
        'products',
        'orders',
        'order_items',
        'stock_movements',
        'stock_adjustments',
        'idempotency_keys',
        'outbox',
        'schema_migrations',
      ]
    )

    const migrations = await tenantMigrations()
    const { rows: ledger } = await db.rawQuery(
      `select name from "${tenant.schemaName}".schema_migrations order by name`
    )
    assert.deepEqual(
      ledger.map((row: any) => row.name),
      migrations.map((migration) => migration.name)
    )
    const { rows: platform } = await db.rawQuery(
      'select migration_version from public.tenants where id = ?',
      [tenant.id]
    )
    assert.equal(platform[0].migration_version, migrations.at(-1)!.name)
    assert.equal(tenant.owner.role, 'owner')
  })

  for (const step of ['tenant', 'schema', 'owner'] as ProvisionStep[]) {
    test('a failure after the "{step}" step leaves nothing behind')
      .with([{ step }])
      .run(async ({ assert }, { step: failing }) => {
        const name = `Failing ${failing} ${Date.now()}`
        const provisioner = new TenantProvisioner((current) => {
          if (current === failing) throw new Error(`injected failure after ${current}`)
        })
        await assert.rejects(
          () =>
            provisioner.provision({
              name,
              owner: {
                username: `fail_${failing}_${Date.now()}`,
                email: `fail_${failing}_${Date.now()}@example.com`,
                passwordHash: 'x',
              },
            }),
          /injected failure/
        )
        const { rows } = await db.rawQuery('select id from public.tenants where name = ?', [name])
        assert.lengthOf(rows, 0)
        const { rows: schemas } = await db.rawQuery(
          `select nspname from pg_namespace where nspname ~ '^tenant_[0-9]+$'
           and not exists (select 1 from public.tenants t where t.schema_name = nspname)`
        )
        assert.lengthOf(schemas, 0)
      })
  }

  test("a failure in the caller's in-transaction step leaves nothing behind", async ({
    assert,
  }) => {
    const name = `Failing session ${Date.now()}`
    await assert.rejects(
      () =>
        new TenantProvisioner().provision(
          {
            name,
            owner: {
              username: `fail_session_${Date.now()}`,
              email: `fail_session_${Date.now()}@example.com`,
              passwordHash: 'x',
            },
          },
          async () => {
            throw new Error('session could not start')
          }
        ),
      /session could not start/
    )
    const { rows } = await db.rawQuery('select id from public.tenants where name = ?', [name])
    assert.lengthOf(rows, 0)
  })

  test('a taken store name is a unique violation on "name"', async ({ assert }) => {
    const tenant = await givenTenant()
    const error = await new TenantProvisioner()
      .provision({
        name: tenant.name.toUpperCase(),
        owner: {
          username: `dup${Date.now()}`,
          email: `dup${Date.now()}@example.com`,
          passwordHash: await fixturePasswordHash(),
        },
      })
      .catch((e) => e)
    assert.equal(error.code, '23505')
  })
})
