import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { onCitus, provisionSql, runScript, tenantMigrations } from '#tenancy/tenant_migrations'
import { forwardedVerbatim, scriptBatches, transactionQueries } from '#tenancy/sql_script'
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
      '9001_two_columns.ts': `import { BaseSchema } from '@adonisjs/lucid/schema'
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

  test('statements Citus forwards verbatim are sent on their own, the rest joined', ({
    assert,
  }) => {
    assert.isTrue(forwardedVerbatim('create index i on p (a)'))
    assert.isTrue(forwardedVerbatim('-- note\n  CREATE UNIQUE INDEX i on p (a)'))
    assert.isTrue(forwardedVerbatim('drop index if exists i'))
    assert.isTrue(forwardedVerbatim('reindex table p'))
    assert.isTrue(forwardedVerbatim('alter index i rename to j'))
    assert.isTrue(forwardedVerbatim('alter table p drop column a'))
    assert.isTrue(forwardedVerbatim('alter table p alter column a set not null'))
    assert.isTrue(forwardedVerbatim('alter table p add constraint c check (a > 0)'))
    assert.isTrue(forwardedVerbatim('alter table p rename column a to b'))
    assert.isFalse(forwardedVerbatim('alter table "p" add column "a" varchar(32) null'))
    assert.isFalse(forwardedVerbatim('create table index_notes (id bigint)'))
    assert.isFalse(forwardedVerbatim("select set_config('search_path', 'x', true)"))
    assert.isFalse(forwardedVerbatim("insert into schema_migrations (name, batch) values ('a', 1)"))
    assert.isFalse(forwardedVerbatim("comment on table p is 'create index'"))

    assert.deepEqual(
      scriptBatches(
        "create table t (id bigint); comment on table t is 'a; b'; create index i on t (id); alter index i rename to j; alter table t add column c int"
      ),
      [
        "create table t (id bigint);\ncomment on table t is 'a; b'",
        'create index i on t (id)',
        'alter index i rename to j',
        'alter table t add column c int',
      ]
    )
    assert.deepEqual(scriptBatches('select 1; select 2'), ['select 1;\nselect 2'])
  })

  test('a script of several round trips runs in one transaction of its own', ({ assert }) => {
    // One round trip: the simple protocol makes it one implicit transaction.
    assert.deepEqual(transactionQueries('select 1; select 2', false), ['select 1;\nselect 2'])
    assert.deepEqual(transactionQueries('select 1; create index i on t (a); select 2', false), [
      'begin;\nselect 1',
      'create index i on t (a)',
      'select 2;\ncommit',
    ])
    assert.deepEqual(transactionQueries('create index i on t (a); drop index j', false), [
      'begin',
      'create index i on t (a)',
      'drop index j',
      'commit',
    ])
    // Inside the caller's transaction: the batches as they are.
    assert.deepEqual(transactionQueries('select 1; create index i on t (a)', true), [
      'select 1',
      'create index i on t (a)',
    ])
  })

  test('no multi-statement query of provisioning or of a migration holds an index statement', async ({
    assert,
  }) => {
    const scripts = [await provisionSql(1, '"tenant_1"')]
    for (const migration of await tenantMigrations()) scripts.push(migration.up, migration.down)
    let verbatim = 0
    for (const script of scripts) {
      for (const batch of scriptBatches(script)) {
        const statements = splitStatements(batch)
        if (statements.some(forwardedVerbatim)) {
          verbatim++
          assert.lengthOf(statements, 1, batch)
        }
      }
    }
    assert.isAbove(verbatim, 10)
  })

  test('a script split around its index statements (as on Citus) is still all or nothing', async ({
    assert,
  }) => {
    const table = `script_probe_${process.pid}`
    await assert.rejects(() =>
      runScript(
        db,
        `create table public.${table} (id bigint); create index on public.${table} (id); select 1 / 0`,
        { split: true }
      )
    )
    const { rows } = await db.rawQuery('select to_regclass(?) as found', [`public.${table}`])
    assert.isNull(rows[0].found)
    await runScript(
      db,
      `create table public.${table} (id bigint); create index on public.${table} (id)`,
      { split: true }
    )
    const { rows: created } = await db.rawQuery(
      `select count(*)::int as indexes from pg_indexes where schemaname = 'public' and tablename = ?`,
      [table]
    )
    assert.equal(created[0].indexes, 1)
    await db.rawQuery(`drop table public.${table}`)
  })

  test('plain PostgreSQL is told apart from Citus (scripts stay one query there)', async ({
    assert,
  }) => {
    assert.isFalse(await onCitus(db))
    const { rows } = await db.rawQuery(
      `select count(*)::int as n from pg_extension where extname = 'citus'`
    )
    assert.equal(rows[0].n, 0)
  })
})
