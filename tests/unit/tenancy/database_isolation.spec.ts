import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { runtimeRole } from '#config/database'
import { withTenant } from '#tenancy/context'
import { givenTenant, type GivenTenant } from '#tests/support/fixtures'
import platform from '#tests/support/platform_db'
import { TenantPool } from '#tenancy/tenant_pool'
import { TenantProvisioner } from '#tenancy/tenant_provisioner'
import { ensureRuntimeRole, secureAllTenants, secureUnsecuredTenants } from '#tenancy/runtime_role'
import { spareSchema } from '#tenancy/schema'
import { fixturePasswordHash } from '#tests/support/fixtures'
import { dropTenants } from '#tests/support/tenancy'

/**
 * PostgreSQL itself refuses cross-tenant access (docs/design/isolation.md):
 * hostile SQL run inside a real tenant transaction of tenant A, on the
 * runtime role's pool, cannot read or change anything of tenant B, whatever
 * it names, sets or switches. Each attempt runs in its own transaction
 * (a refused statement aborts it).
 */
const PERMISSION_DENIED = '42501'

let a: GivenTenant
let b: GivenTenant

async function insideA<T>(fn: (trx: TransactionClientContract) => Promise<T>): Promise<T> {
  return withTenant(a.id, fn)
}

async function refusedInsideA(assert: any, ...statements: string[]) {
  const error = await insideA(async (trx) => {
    for (const sql of statements) await trx.rawQuery(sql)
  }).catch((e) => e)
  assert.exists(error, `not refused: ${statements.join('; ')}`)
  assert.equal(error.code, PERMISSION_DENIED, `${statements.join('; ')}: ${error.message}`)
}

test.group('Database-enforced isolation: hostile SQL inside a tenant transaction', (group) => {
  group.setup(async () => {
    a = await givenTenant()
    b = await givenTenant()
    for (const tenant of [a, b]) {
      await platform.rawQuery(
        `with product as (
           insert into "${tenant.schemaName}".products (name, sku, price, stock)
           values ('Secret', 'SECRET-${tenant.id}', 1, 5) returning id
         )
         insert into "${tenant.schemaName}".stock_movements (product_id, delta, kind)
         select id, 5, 'initial' from product`
      )
    }
  })

  test('its own tenant is reachable (the control)', async ({ assert }) => {
    const skus = await insideA(async (trx) => {
      const { rows } = await trx.rawQuery(`select sku from "${a.schemaName}".products`)
      return rows.map((row: { sku: string }) => row.sku)
    })
    assert.deepEqual(skus, [`SECRET-${a.id}`])
  })

  test('reading another tenant schema by name is permission denied', async ({ assert }) => {
    await refusedInsideA(assert, `select * from "${b.schemaName}".products`)
    await refusedInsideA(assert, `select count(*) from "${b.schemaName}".products`)
    await refusedInsideA(assert, `select * from "${b.schemaName}".stock_movements`)
  })

  test('an empty table of another tenant yields no row (the guard runs per row read)', async ({
    assert,
  }) => {
    const rows = await insideA(async (trx) => {
      const result = await trx.rawQuery(`select * from "${b.schemaName}".outbox`)
      return result.rows
    })
    assert.deepEqual(rows, [])
  })

  test('writing another tenant schema is permission denied', async ({ assert }) => {
    await refusedInsideA(
      assert,
      `insert into "${b.schemaName}".products (name, sku, price, stock) values ('x', 'EVIL', 1, 1)`
    )
    await refusedInsideA(assert, `update "${b.schemaName}".products set stock = 0`)
    await refusedInsideA(assert, `delete from "${b.schemaName}".products`)
    await refusedInsideA(assert, `truncate "${b.schemaName}".products`)
    // Nor its sequences: neither their position (its row count) nor their next value.
    await refusedInsideA(assert, `select last_value from "${b.schemaName}".products_id_seq`)
    await refusedInsideA(assert, `select nextval('"${b.schemaName}".products_id_seq')`)
    const { rows } = await platform.rawQuery(`select sku, stock from "${b.schemaName}".products`)
    assert.deepEqual(rows, [{ sku: `SECRET-${b.id}`, stock: 5 }])
  })

  test('set search_path to another tenant does not reach it', async ({ assert }) => {
    await refusedInsideA(
      assert,
      `set local search_path = "${b.schemaName}", public`,
      'select * from products'
    )
    await refusedInsideA(
      assert,
      `select set_config('search_path', '"${b.schemaName}"', true)`,
      'select * from products'
    )
  })

  test('set role to any other role is refused, reset role gains nothing', async ({ assert }) => {
    const { rows } = await platform.rawQuery('select current_user as owner')
    for (const role of [rows[0].owner, 'pg_read_all_data', 'pg_write_all_data', 'postgres']) {
      await refusedInsideA(assert, `set role "${role}"`)
      await refusedInsideA(assert, `set local role "${role}"`)
    }
    await refusedInsideA(assert, 'reset role', `select * from "${b.schemaName}".products`)
    await refusedInsideA(assert, 'set role none', `select * from "${b.schemaName}".products`)
    await refusedInsideA(
      assert,
      'set session authorization default',
      `select * from "${b.schemaName}".products`
    )
    await refusedInsideA(assert, `set session authorization "${rows[0].owner}"`)
  })

  test('forging the tenant setting, copying the seal or re-entering is refused', async ({
    assert,
  }) => {
    await refusedInsideA(
      assert,
      `select set_config('tenancy.tenant_id', '${b.id}', true)`,
      `select * from "${b.schemaName}".products`
    )
    await refusedInsideA(
      assert,
      `select set_config('tenancy.tenant_id', '${b.id}', true),
              set_config('tenancy.seal', current_setting('tenancy.seal'), true)`,
      `select * from "${b.schemaName}".products`
    )
    await refusedInsideA(assert, `select tenancy.enter(${b.id})`)
    await refusedInsideA(assert, `select tenancy.enter(${a.id})`)
    await refusedInsideA(assert, `select tenancy.seal(${b.id})`)
    await refusedInsideA(assert, 'select value from tenancy.secret')
    await refusedInsideA(assert, `select tenancy.secure_schema(${b.id})`)
  })

  test("another tenant's users, sessions, refresh tokens and tenant row are invisible", async ({
    assert,
  }) => {
    const seen = await insideA(async (trx) => {
      const { rows } = await trx.rawQuery(
        `select
           (select count(*) from public.users where tenant_id = ${b.id}) as b_users,
           (select count(*) from public.users) as users,
           (select count(*) from public.auth_sessions where tenant_id = ${b.id}) as b_sessions,
           (select count(*) from public.auth_sessions s where s.user_id = ${b.owner.id}) as b_owner_sessions,
           (select count(*) from public.refresh_tokens r
              where r.session_id = '${b.owner.sessionId}') as b_tokens,
           (select count(*) from public.tenants where id = ${b.id}) as b_tenant,
           (select count(*) from public.tenants) as tenants`
      )
      return rows[0]
    })
    assert.deepEqual(seen, {
      b_users: 0,
      users: 1,
      b_sessions: 0,
      b_owner_sessions: 0,
      b_tokens: 0,
      b_tenant: 0,
      tenants: 1,
    })
    const { rows } = await platform.rawQuery(
      'select count(*) as n from public.auth_sessions where tenant_id = ?',
      [b.id]
    )
    assert.equal(rows[0].n, 1)
  })

  test('the admission function answers for the entered tenant only (migration 0007)', async ({
    assert,
  }) => {
    const admission = (user: GivenTenant['owner']) =>
      `select user_role, user_active, session_revoked
       from tenancy.admission(${user.id}, '${user.sessionId}')`
    const none = { user_role: null, user_active: null, session_revoked: null }
    const seen = await insideA(async (trx) => {
      const own = await trx.rawQuery(admission(a.owner))
      const other = await trx.rawQuery(admission(b.owner))
      const mixed = await trx.rawQuery(
        `select session_revoked from tenancy.admission(${a.owner.id}, '${b.owner.sessionId}')`
      )
      return [own.rows[0], other.rows[0], mixed.rows[0]]
    })
    assert.deepEqual(seen, [
      { user_role: 'owner', user_active: true, session_revoked: false },
      none,
      // B's session is not one of A's users' sessions: as if revoked
      { session_revoked: true },
    ])
    // Outside an entered transaction (no seal), and with a forged tenant setting
    const { rows } = await db.rawQuery(admission(a.owner))
    assert.deepEqual(rows[0], none)
    const forged = await db.transaction(async (trx) => {
      await trx.rawQuery(`select set_config('tenancy.tenant_id', '${a.id}', true)`)
      const result = await trx.rawQuery(admission(a.owner))
      return result.rows[0]
    })
    assert.deepEqual(forged, none)
  })

  test("another tenant's users cannot be changed or a user moved to it", async ({ assert }) => {
    const changed = await insideA(async (trx) => {
      const update = await trx.rawQuery(
        `update public.users set is_active = false where tenant_id = ${b.id}`
      )
      const remove = await trx.rawQuery(
        `update public.auth_sessions set revoked_at = now() where tenant_id = ${b.id}`
      )
      return [update.rowCount, remove.rowCount]
    })
    assert.deepEqual(changed, [0, 0])
    await refusedInsideA(
      assert,
      `update public.users set tenant_id = ${b.id} where id = ${a.owner.id}`
    )
    await refusedInsideA(
      assert,
      `insert into public.users (tenant_id, username, email, password, role)
       values (${b.id}, 'intruder', 'intruder@example.com', 'x', 'owner')`
    )
  })

  test('creating a schema, a table or a temporary table is refused', async ({ assert }) => {
    await refusedInsideA(assert, 'create schema evil')
    await refusedInsideA(assert, 'create table public.evil (id int)')
    await refusedInsideA(assert, `create table "${a.schemaName}".evil (id int)`)
    await refusedInsideA(assert, 'create temporary table evil (id int)')
  })

  test('outside a tenant transaction the runtime role reaches no tenant at all', async ({
    assert,
  }) => {
    const error = await db.rawQuery(`select * from "${a.schemaName}".products`).catch((e) => e)
    assert.equal(error.code, PERMISSION_DENIED)
    const { rows } = await db.rawQuery(
      `select (select count(*) from public.users) as users,
              (select count(*) from public.tenants) as tenants,
              (select count(*) from public.auth_sessions) as sessions`
    )
    assert.deepEqual(rows[0], { users: 0, tenants: 0, sessions: 0 })
  })

  test('the runtime role is no superuser, bypasses no RLS, owns and may create nothing', async ({
    assert,
  }) => {
    const { rows } = await db.rawQuery(
      `select r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
              (select count(*) from pg_namespace n where n.nspowner = r.oid) as schemas_owned,
              (select count(*) from pg_auth_members m where m.member = r.oid) as memberships,
              has_database_privilege(r.oid, current_database(), 'create') as may_create_schema,
              has_database_privilege(r.oid, current_database(), 'temporary') as may_create_temp,
              current_setting('idle_in_transaction_session_timeout') as idle_limit
       from pg_roles r where r.rolname = current_user`
    )
    assert.deepEqual(rows[0], {
      rolname: runtimeRole.user,
      rolsuper: false,
      rolbypassrls: false,
      rolcreatedb: false,
      rolcreaterole: false,
      schemas_owned: 0,
      memberships: 0,
      may_create_schema: false,
      may_create_temp: false,
      idle_limit: rows[0].idle_limit,
    })
    assert.notEqual(rows[0].idle_limit, '0')
  })

  test('the runtime role may use every sequence of public, one added later too', async ({
    assert,
  }) => {
    // ensureRuntimeRole lists the sequences of public through pg_depend,
    // not `grant … on all sequences in schema public` (a scan of pg_class).
    const unusable = `select c.relname from pg_class c
       where c.relnamespace = 'public'::regnamespace
         and case when c.relkind = 'S' then not has_sequence_privilege(?, c.oid, 'usage') end`
    await platform.rawQuery('create sequence public.isolation_spec_seq')
    try {
      const before = await platform.rawQuery(unusable, [runtimeRole.user])
      assert.deepEqual(
        before.rows.map((row: { relname: string }) => row.relname),
        ['isolation_spec_seq']
      )
      await ensureRuntimeRole(platform)
      const after = await platform.rawQuery(unusable, [runtimeRole.user])
      assert.deepEqual(after.rows, [])
      const { rows } = await platform.rawQuery(
        `select count(*)::int as n from pg_class
         where relnamespace = 'public'::regnamespace and relkind = 'S'`
      )
      assert.isAbove(rows[0].n, 1)
    } finally {
      await platform.rawQuery('drop sequence public.isolation_spec_seq')
    }
  })

  test('a table added to a tenant schema later is guarded once the schema is secured', async ({
    assert,
  }) => {
    await platform.rawQuery(`create table "${b.schemaName}".late_addition (id bigint primary key)`)
    await platform.rawQuery(`insert into "${b.schemaName}".late_addition values (1)`)
    await platform.rawQuery(`select tenancy.secure_schema(${b.id})`)
    await refusedInsideA(assert, `select * from "${b.schemaName}".late_addition`)
    const own = await withTenant(b.id, async (trx) => {
      const { rows } = await trx.rawQuery('select id from late_addition')
      return rows
    })
    assert.deepEqual(own, [{ id: 1 }])
  })
})

async function refusedInside(assert: any, tenantId: number, ...statements: string[]) {
  const error = await withTenant(tenantId, async (trx) => {
    for (const sql of statements) await trx.rawQuery(sql)
  }).catch((e) => e)
  assert.exists(error, `not refused: ${statements.join('; ')}`)
  assert.equal(error.code, PERMISSION_DENIED, `${statements.join('; ')}: ${error.message}`)
}

async function plantRow(schema: string, sku: string) {
  await platform.rawQuery(
    `insert into "${schema}".products (name, sku, price, stock) values ('Planted', ?, 1, 1)`,
    [sku]
  )
}

async function ownSkus(tenantId: number) {
  return withTenant(tenantId, async (trx) => {
    const { rows } = await trx.rawQuery('select sku from products order by sku')
    return rows.map((row: { sku: string }) => row.sku)
  })
}

/** What the runtime role holds on a schema, read as the owner role. */
async function securedState(schema: string) {
  const { rows } = await platform.rawQuery(
    `select has_schema_privilege(?, n.oid, 'usage') as usage,
            count(c.oid)::int as tables,
            (count(c.oid) filter (where c.relrowsecurity))::int as rls,
            (count(c.oid) filter (where pg_get_expr(p.polqual, p.polrelid)
               = format('( SELECT tenancy.schema_guard(%L::regnamespace) AS schema_guard)',
                        n.nspname)))::int as bound_to_schema
     from pg_namespace n
     left join pg_class c on c.relnamespace = n.oid and c.relkind = 'r'
     left join pg_policy p on p.polrelid = c.oid and p.polname = 'tenant_guard'
     where n.nspname = ? group by n.oid`,
    [runtimeRole.user, schema]
  )
  return rows[0]
}

let counter = 0
async function signUp(pool: TenantPool, failAfterSchema = false) {
  const n = `${process.pid}x${Date.now().toString(36)}x${++counter}`
  return new TenantProvisioner((step) => {
    if (failAfterSchema && step === 'schema') throw new Error('injected failure')
  }, pool).provision({
    name: `Spare isolation ${n}`,
    owner: {
      username: `spare${n}`,
      email: `spare${n}@example.com`,
      passwordHash: await fixturePasswordHash(),
    },
  })
}

test.group('Database-enforced isolation: spare schemas of the pool', (group) => {
  let tenant: GivenTenant
  const created: number[] = []
  group.setup(async () => {
    await new TenantPool().empty()
    tenant = await givenTenant()
    await plantRow(tenant.schemaName, `OWN-${tenant.id}`)
  })
  group.teardown(async () => {
    await new TenantPool().empty()
    await dropTenants(created.splice(0))
  })
  group.each.teardown(async () => {
    await new TenantPool().empty()
  })

  test('a spare is secured when built, and no tenant can reach it', async ({ assert }) => {
    const [spareId] = await new TenantPool({ size: 1 }).fill()
    const schema = spareSchema(spareId)
    const state = await securedState(schema)
    assert.isAbove(state.tables, 0)
    assert.deepEqual(state, {
      usage: false,
      tables: state.tables,
      rls: state.tables,
      bound_to_schema: state.tables,
    })
    const { rows } = await platform.rawQuery(
      'select secured from public.tenant_spares where id = ?',
      [spareId]
    )
    assert.isTrue(rows[0].secured)

    // A row in it (a spare never holds one: here it tells what would leak).
    await plantRow(schema, 'IN-THE-SPARE')
    await refusedInside(assert, tenant.id, `select * from "${schema}".products`)
    await refusedInside(assert, tenant.id, `select * from "${schema}".outbox`)
    await refusedInside(
      assert,
      tenant.id,
      `insert into "${schema}".products (name, sku, price, stock) values ('x', 'EVIL', 1, 1)`
    )
    // Without USAGE the schema is skipped from the search_path: nothing by that name.
    const unqualified = await withTenant(tenant.id, async (trx) => {
      await trx.rawQuery(`select set_config('search_path', '"${schema}", public', true)`)
      await trx.rawQuery('select * from products')
    }).catch((e) => e)
    assert.equal(unqualified?.code, '42P01')
    await refusedInside(assert, tenant.id, `select last_value from "${schema}".products_id_seq`)
    await refusedInside(assert, tenant.id, `select tenancy.secure_spare(${spareId})`)
    const outside = await db.rawQuery(`select * from "${schema}".products`).catch((e) => e)
    assert.equal(outside.code, PERMISSION_DENIED)
  })

  test('a claimed spare is reachable by its new tenant only', async ({ assert }) => {
    const [spareId] = await new TenantPool({ size: 1 }).fill()
    const claimed = await signUp(new TenantPool({ size: 1 }))
    created.push(claimed.tenant.id)
    assert.equal(claimed.schema, 'claimed')
    const schema = claimed.tenant.schemaName
    assert.notEqual(schema, spareSchema(spareId))
    // The guard followed the schema through the rename.
    const state = await securedState(schema)
    assert.deepEqual(state, {
      usage: true,
      tables: state.tables,
      rls: state.tables,
      bound_to_schema: state.tables,
    })

    await plantRow(schema, `NEW-${claimed.tenant.id}`)
    assert.deepEqual(await ownSkus(claimed.tenant.id), [`NEW-${claimed.tenant.id}`])
    await refusedInside(assert, tenant.id, `select * from "${schema}".products`)
    await refusedInside(
      assert,
      tenant.id,
      `insert into "${schema}".products (name, sku, price, stock) values ('x', 'EVIL', 1, 1)`
    )
    await refusedInside(assert, claimed.tenant.id, `select * from "${tenant.schemaName}".products`)
    assert.deepEqual(await ownSkus(tenant.id), [`OWN-${tenant.id}`])
  })

  test('a sign-up failing after the claim leaves the spare as unreachable as before', async ({
    assert,
  }) => {
    const [spareId] = await new TenantPool({ size: 1 }).fill()
    const failed = await signUp(new TenantPool({ size: 1 }), true).catch((error) => error)
    assert.match(failed.message, /injected failure/)
    const schema = spareSchema(spareId)
    const state = await securedState(schema)
    assert.deepEqual(state, {
      usage: false,
      tables: state.tables,
      rls: state.tables,
      bound_to_schema: state.tables,
    })
    await plantRow(schema, 'IN-THE-SPARE')
    await refusedInside(assert, tenant.id, `select * from "${schema}".products`)
  })

  test('a tenant secured before the schema-bound guard is re-secured in it, resumably', async ({
    assert,
  }) => {
    const other = await givenTenant()
    created.push(other.id)
    await plantRow(other.schemaName, `OTHER-${other.id}`)
    // As migration 0004 left it: policies naming the tenant, grants on the sequences.
    const { rows: tables } = await platform.rawQuery(
      `select relname from pg_class where relnamespace = ?::regnamespace and relkind = 'r'`,
      [other.schemaName]
    )
    for (const { relname } of tables) {
      await platform.rawQuery(
        `alter policy tenant_guard on "${other.schemaName}"."${relname}"
         using ((select tenancy.guard(${other.id})))`
      )
    }
    await platform.rawQuery(
      `grant usage, select on all sequences in schema "${other.schemaName}" to "${runtimeRole.user}"`
    )
    const before = await securedState(other.schemaName)
    assert.equal(before.bound_to_schema, 0)
    // The old policies still guard.
    await refusedInside(assert, tenant.id, `select * from "${other.schemaName}".products`)
    assert.deepEqual(await ownSkus(other.id), [`OTHER-${other.id}`])

    // What a plain tenants:migrate runs: it finds the old-form schema.
    assert.isAtLeast(await secureUnsecuredTenants(platform), 1)
    const after = await securedState(other.schemaName)
    assert.deepEqual(after, {
      usage: true,
      tables: after.tables,
      rls: after.tables,
      bound_to_schema: after.tables,
    })
    await refusedInside(assert, tenant.id, `select * from "${other.schemaName}".products`)
    await refusedInside(
      assert,
      tenant.id,
      `select last_value from "${other.schemaName}".products_id_seq`
    )
    assert.deepEqual(await ownSkus(other.id), [`OTHER-${other.id}`])
    const { rows: inserted } = await withTenant(other.id, (trx) =>
      trx.rawQuery(
        `insert into products (name, sku, price, stock) values ('n', 'NEW', 1, 1) returning id`
      )
    )
    assert.isAbove(Number(inserted[0].id), 0)
    // Converted once: a second plain run finds nothing, a full run changes nothing.
    assert.equal(await secureUnsecuredTenants(platform), 0)
    await secureAllTenants(platform)
    assert.deepEqual(await securedState(other.schemaName), after)
  })
})
