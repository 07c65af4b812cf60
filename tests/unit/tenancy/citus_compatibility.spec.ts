import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { tenantMigrations } from '#tenancy/tenant_migrations'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import {
  alterTableSubcommands,
  splitStatements,
  tenantMigrationsFixture,
} from '#tests/support/tenancy'

/**
 * Tenant schemas must stay movable to Citus schema-based sharding: BIGINT
 * keys, no foreign key leaving the schema, no inheritance, and one
 * subcommand per ALTER TABLE. Checked on the catalog of a real tenant and
 * on the compiled SQL of every tenant migration.
 */
test.group('Citus compatibility of tenant schemas', (group) => {
  let tenant: GivenTenant

  group.setup(async () => {
    tenant = await givenTenant()
  })

  test('every key column (primary, foreign, *_id) is bigint', async ({ assert }) => {
    const { rows: keys } = await db.rawQuery(
      `select c.relname::text as table_name, a.attname::text as column_name,
              format_type(a.atttypid, a.atttypmod) as type, con.contype::text as kind
       from pg_constraint con
       join pg_class c on c.oid = con.conrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum = any(con.conkey)
       where n.nspname = ? and con.contype in ('p', 'f')
       union all
       select table_name::text, column_name::text, data_type::text, 'c'
       from information_schema.columns
       where table_schema = ? and (column_name = 'id' or column_name like '%\\_id')`,
      [tenant.schemaName, tenant.schemaName]
    )
    // The ledger's key is the migration's name, not an id.
    const checked = keys.filter((key: any) => key.table_name !== 'schema_migrations')

    assert.isAbove(checked.filter((key: any) => key.kind === 'p').length, 6)
    assert.isAbove(checked.filter((key: any) => key.kind === 'f').length, 0)
    const notBigint = checked.filter((key: any) => key.type !== 'bigint')
    assert.deepEqual(notBigint, [])
  })

  test('no foreign key leaves the tenant schema, none enters it', async ({ assert }) => {
    const { rows } = await db.rawQuery(
      `select con.conname, src.nspname as from_schema, dst.nspname as to_schema
       from pg_constraint con
       join pg_class s on s.oid = con.conrelid
       join pg_namespace src on src.oid = s.relnamespace
       join pg_class d on d.oid = con.confrelid
       join pg_namespace dst on dst.oid = d.relnamespace
       where con.contype = 'f' and (src.nspname = ? or dst.nspname = ?)`,
      [tenant.schemaName, tenant.schemaName]
    )
    assert.isNotEmpty(rows)
    const crossing = rows.filter(
      (row: any) => row.from_schema !== tenant.schemaName || row.to_schema !== tenant.schemaName
    )
    assert.deepEqual(crossing, [])
  })

  test('no table inheritance or partitioning in the tenant schema', async ({ assert }) => {
    const { rows } = await db.rawQuery(
      `select c.relname from pg_inherits i
       join pg_class c on c.oid in (i.inhrelid, i.inhparent)
       join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ?
       union all
       select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ? and c.relkind = 'p'`,
      [tenant.schemaName, tenant.schemaName]
    )
    assert.deepEqual(rows, [])
    const { rows: tables } = await db.rawQuery(
      `select count(*) as tables from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ? and c.relkind = 'r'`,
      [tenant.schemaName]
    )
    assert.isAbove(tables[0].tables, 7)
  })

  test('the ALTER TABLE checker counts top-level subcommands only', ({ assert }) => {
    assert.equal(alterTableSubcommands('alter table "p" add column "a" bigint'), 1)
    assert.equal(
      alterTableSubcommands('alter table "p" add column "a" bigint, add column "b" bigint'),
      2
    )
    assert.equal(
      alterTableSubcommands(
        `alter table p add constraint c check (status in ('a, b', 'c')), add column "x,y" int`
      ),
      2
    )
    assert.equal(
      alterTableSubcommands(`alter table p add constraint c check (kind in ('a', 'b'))`),
      1
    )
    assert.equal(alterTableSubcommands('create index i on p (a, b)'), 0)
    assert.deepEqual(splitStatements(`select ';'; select "a;b"; -- x;\nselect 1`), [
      `select ';'`,
      'select "a;b"',
      '-- x;\nselect 1',
    ])
  })

  test('the checker catches what the schema builder compiles for two columns at once', async ({
    assert,
  }) => {
    const fixture = await tenantMigrationsFixture({
      '0002_two_columns.ts': `import { BaseSchema } from '@adonisjs/lucid/schema'
export default class extends BaseSchema {
  async up() {
    this.schema.alterTable('products', (table) => {
      table.bigInteger('a')
      table.bigInteger('b')
    })
  }
  async down() {}
}
`,
    })
    try {
      const migrations = await tenantMigrations(fixture.directory)
      const offending = splitStatements(migrations.at(-1)!.up).filter(
        (statement) => alterTableSubcommands(statement) > 1
      )
      assert.lengthOf(offending, 1)
    } finally {
      await fixture.remove()
    }
  })

  test('no tenant migration has an ALTER TABLE with more than one subcommand', async ({
    assert,
  }) => {
    const migrations = await tenantMigrations()
    assert.isNotEmpty(migrations)
    for (const migration of migrations) {
      const statements = [...splitStatements(migration.up), ...splitStatements(migration.down)]
      assert.isNotEmpty(statements, migration.name)
      for (const statement of statements) {
        assert.isAtMost(alterTableSubcommands(statement), 1, `${migration.name}: ${statement}`)
      }
    }
  })
})
