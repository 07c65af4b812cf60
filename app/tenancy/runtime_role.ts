import type { QueryClientContract } from '@adonisjs/lucid/types/database'
import { databaseName, runtimeRole, transactionLimits } from '#config/database'
import { quoteIdent } from '#tenancy/schema'

/**
 * The runtime role: the one the API and the worker log in as for tenant
 * work (docs/design/isolation.md). Not a superuser, no BYPASSRLS, no
 * CREATEDB/CREATEROLE, owns nothing, cannot create a schema or a temporary
 * table; it reaches tenant rows only through `tenancy.enter`.
 *
 * `ensureRuntimeRole` runs as the owner role (`tenants:migrate`, which
 * `npm run migrate` runs after the platform migrations, and the test
 * setup): it creates the role when it is missing, sets its password and
 * its per-database settings, records it in `tenancy.runtime`, and keeps
 * its grants right. Each statement is sent on its own (Citus propagates
 * role and grant statements one at a time).
 */
export async function ensureRuntimeRole(
  client: QueryClientContract
): Promise<{ created: boolean }> {
  const role = quoteIdent(runtimeRole.user)
  const database = quoteIdent(databaseName)
  const { rows } = await client.rawQuery('select 1 from pg_roles where rolname = ?', [
    runtimeRole.user,
  ])
  const created = rows.length === 0
  if (created) await client.rawQuery(`create role ${role} login`)

  const password = runtimeRole.password ? `password ${literal(runtimeRole.password)}` : ''
  const statements = [
    `alter role ${role} with login nosuperuser nocreatedb nocreaterole noinherit nobypassrls noreplication ${password}`,
    `alter role ${role} in database ${database} set idle_in_transaction_session_timeout = ${transactionLimits.idleInTransactionMs}`,
    // Nobody but the owner creates anything in this database.
    `revoke create, temporary on database ${database} from public`,
    `revoke create on schema public from public`,
    `grant connect on database ${database} to ${role}`,
    `grant usage on schema public, tenancy to ${role}`,
    `grant select on public.tenants to ${role}`,
    `grant select, insert, update, delete on public.users to ${role}`,
    `grant select, update on public.auth_sessions to ${role}`,
    `grant select on public.refresh_tokens to ${role}`,
    // tenancy.guard: the tenant-bound policies of schemas not yet re-secured (migration 0006).
    `grant execute on function tenancy.enter(bigint), tenancy.current_tenant(), tenancy.guard(bigint), tenancy.schema_guard(regnamespace) to ${role}`,
    // The request admission (migration 0007, app/auth/admission.ts).
    `grant execute on function tenancy.admission(bigint, uuid) to ${role}`,
  ]
  for (const sql of statements) await client.rawQuery(sql)

  // The sequences of public, found through their dependency on the schema
  // (pg_depend_reference_index). `grant … on all sequences in schema
  // public` reads the whole of pg_class instead (no index by namespace):
  // 40-50 ms at 1,000 tenants (67,000 relations), ten times that at
  // 10,000, paid by every tenants:migrate, no-op included.
  const { rows: sequences } = await client.rawQuery(
    `select c.relname from pg_depend d join pg_class c on c.oid = d.objid
     where d.refclassid = 'pg_namespace'::regclass and d.refobjid = 'public'::regnamespace
       and d.classid = 'pg_class'::regclass and c.relkind = 'S'
     order by c.relname`
  )
  if (sequences.length > 0) {
    const names = sequences.map((row: { relname: string }) => `public.${quoteIdent(row.relname)}`)
    await client.rawQuery(`grant usage on sequence ${names.join(', ')} to ${role}`)
  }

  const recorded = await client.rawQuery('select role_name from tenancy.runtime')
  const previous: string | undefined = recorded.rows[0]?.role_name
  if (previous !== runtimeRole.user) {
    await client.rawQuery(
      `insert into tenancy.runtime (role_name) values (${literal(runtimeRole.user)})
       on conflict (id) do update set role_name = excluded.role_name`
    )
    // Spares were secured for another role (or none): none is claimable
    // until TenantPool.migrate (tenants:migrate, the refill) secures it again.
    await client.rawQuery('update public.tenant_spares set secured = false where secured')
  }
  return { created }
}

/**
 * Secures every tenant schema (grants and guard policies), a batch of
 * tenants per transaction. `tenancy.secure_schema` changes only what is
 * missing or old (a tenant-bound policy from before migration 0006 is
 * rewritten to the schema-bound guard), so this is cheap on an up-to-date
 * database, and an interrupted run resumes where it stopped.
 */
export async function secureAllTenants(client: QueryClientContract, batch = 50): Promise<number> {
  let after = 0
  let secured = 0
  for (;;) {
    const { rows } = await client.rawQuery(
      `select count(*)::int as secured, max(id) as last
       from (select id, tenancy.secure_schema(id)
             from (select id from public.tenants where id > ? order by id limit ?) batch) done`,
      [after, batch]
    )
    if (!rows[0].last) return secured
    secured += rows[0].secured
    after = rows[0].last
  }
}

/**
 * The schemas with a table still guarded by the tenant-bound policy of
 * before migration 0006 (`tenancy.guard(<id>)`): found through the
 * policies' dependency on that function (pg_depend_reference_index), none
 * once converted. The OFFSET 0 fence keeps the class filter outside: with
 * it inside, the planner took the depender index on `classid` instead and
 * read the dependencies of every policy of every tenant (33,016 rows, 58
 * to 107 ms at 1,000 tenants, ten times that at 10,000), which every
 * `tenants:migrate`, no-op included, paid.
 */
const OLD_GUARD_SCHEMAS = `
  select c.relnamespace from (select d.classid, d.objid from pg_depend d
                              where d.refclassid = 'pg_proc'::regclass
                                and d.refobjid = to_regprocedure('tenancy.guard(bigint)')
                              offset 0) d
  join pg_policy p on p.oid = d.objid
  join pg_class c on c.oid = p.polrelid
  where d.classid = 'pg_policy'::regclass`

/**
 * USAGE is read from the schema's own ACL (the grant `secure_schema` makes,
 * by the owner), not by `has_schema_privilege`, which looks every schema
 * up again in a command's fresh, cold catalog cache: 5-20 ms against 2-6
 * ms at 1,000 tenants. A grant it does not see (another grantor, PUBLIC,
 * a membership) only means that schema is secured again, which changes
 * nothing that is already right.
 *
 * Secures the tenant schemas the runtime role cannot use yet (no USAGE on
 * the schema: tenants provisioned before the role existed, or since it was
 * recreated or renamed), a batch per transaction; one catalog query when
 * there are none. Provisioning and every tenant migration secure their
 * schema in their own transaction, and `secure_schema` grants USAGE in
 * the same transaction as the rest, so a schema with USAGE is secured;
 * except a schema secured before migration 0006, whose old tenant-bound
 * policies are converted to the schema-bound guard here, once.
 */
export async function secureUnsecuredTenants(
  client: QueryClientContract,
  batch = 50
): Promise<number> {
  const { rows } = await client.rawQuery(
    `select t.id from public.tenants t
     join pg_namespace n on n.nspname = 'tenant_' || t.id::text
     cross join (select r.role_name::regrole as role from tenancy.runtime r) runtime
     where not coalesce(n.nspacl @> makeaclitem(runtime.role, n.nspowner, 'USAGE', false), false)
     union
     select t.id from public.tenants t
     join pg_namespace n on n.nspname = 'tenant_' || t.id::text
     where n.oid in (${OLD_GUARD_SCHEMAS})
     order by id`
  )
  const ids = rows.map((row: { id: number | string }) => Number(row.id))
  for (let start = 0; start < ids.length; start += batch) {
    await client.rawQuery(
      'select count(tenancy.secure_schema(id)) from unnest(?::bigint[]) as ids (id)',
      [ids.slice(start, start + batch)]
    )
  }
  return ids.length
}

/**
 * SQL that secures one tenant schema (appended to provisioning and to
 * every tenant migration script).
 */
export function secureSchemaSql(tenantId: number): string {
  return `select tenancy.secure_schema(${tenantId})`
}

/**
 * SQL that secures a spare schema of the pool as a tenant's (privileges on
 * its tables, row-level security and the schema-bound guard), without
 * USAGE on the schema, and records in `tenant_spares.secured` whether it
 * is (only a secured spare is claimable). Run when the spare is built and
 * after each migration of it.
 */
export function secureSpareSql(spareId: number): string {
  return `update public.tenant_spares set secured = tenancy.secure_spare(${spareId}) where id = ${spareId}`
}

/**
 * Drops the runtime role (test teardown, bench cleanup), after its
 * database is gone or with `drop owned` in it first.
 */
export function dropRuntimeRoleSql(): string {
  return `drop role if exists ${quoteIdent(runtimeRole.user)}`
}

function literal(value: string) {
  return `'${value.replaceAll("'", "''")}'`
}
