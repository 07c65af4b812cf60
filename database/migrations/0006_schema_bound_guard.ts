import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * The tenant guard bound to the schema, not to a tenant id
 * (docs/design/isolation.md, docs/design/tenant_pool.md).
 *
 * Before, the `tenant_guard` policy of every tenant table named its tenant
 * (`tenancy.guard(<id>)`), so a spare schema of the pool could be secured
 * only once a sign-up had claimed it: the claim ran 8 ALTER TABLE … ENABLE
 * ROW LEVEL SECURITY and 8 CREATE POLICY on the request path.
 *
 * Now the policy names its schema: `tenancy.schema_guard('<schema>'::regnamespace)`.
 * A regnamespace constant is stored as the schema's oid, which
 * `ALTER SCHEMA … RENAME` keeps (and a dump writes it back as the schema's
 * name, so a restore binds it to the restored schema). The guard passes
 * only when the schema is the one named `tenant_<sealed tenant id>` at
 * the time of the check: a spare (`tenant_spare_<n>`) matches no tenant,
 * and once renamed to `tenant_<id>` it matches that tenant alone. So a
 * spare is secured when it is built (`tenancy.secure_spare`, by the refill
 * job, off the request path) and the claim (`tenancy.claim_spare`, one
 * round trip) only renames it and grants the runtime role `USAGE` on it: a spare never has `USAGE`, so no tenant can
 * even name its tables before it is claimed (the second fence, and the
 * only one on Citus, where distributed tables carry no guard).
 *
 * Also: the runtime role no longer gets privileges on the identity
 * sequences of a (non-distributed) tenant schema. An identity column needs
 * none to insert, and `SELECT` on another tenant's sequence told that
 * tenant's row count (`select last_value from "tenant_B".orders_id_seq`),
 * which row-level security does not cover.
 *
 * Existing tenants are re-secured in the new form by `tenants:migrate`
 * (secureAllTenants, a batch per transaction, resumable: a table already
 * in the new form is left alone); until then their old policies keep
 * guarding them (`tenancy.guard` stays). Existing spares are marked not
 * secured, so no sign-up claims one before the refill job or
 * `tenants:migrate` secures it (TenantPool.migrate).
 */
export default class extends BaseSchema {
  async up() {
    this.schema.raw(
      'alter table public.tenant_spares add column secured boolean not null default false'
    )

    /**
     * Called by the policy, once per query and table reference (an
     * InitPlan). Not SECURITY DEFINER: it reads nothing the runtime role
     * may not (current_tenant is the definer); every name qualified, and
     * the runtime role can create no object that would shadow one.
     */
    this.schema.raw(`
      create function tenancy.schema_guard(schema regnamespace) returns boolean
      language plpgsql stable as $$
      declare
        tenant bigint := tenancy.current_tenant();
      begin
        if tenant is null
           or pg_catalog.to_regnamespace('tenant_' || tenant::text) is distinct from schema then
          raise exception 'permission denied for the tables of schema %', schema
            using errcode = '42501';
        end if;
        return true;
      end $$`)

    /**
     * What every tenant or spare schema needs, whatever it is called: the
     * runtime role's table privileges and, on a schema that is not
     * distributed by Citus, row-level security with the schema-bound guard
     * on every table (an old tenant-bound policy is rewritten in place by
     * ALTER POLICY). No schema USAGE: that is the caller's (a tenant gets
     * it, a spare must not). Changes only what is missing or old. Returns
     * false when there is nothing to secure yet (no runtime role recorded,
     * or no such schema).
     */
    this.schema.raw(`
      create function tenancy.secure_tables(schema_name text) returns boolean
      language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
      declare
        runtime text := (select r.role_name from tenancy.runtime r);
        schema_oid oid := to_regnamespace(quote_ident(schema_name));
        guard_function oid := 'tenancy.schema_guard(regnamespace)'::regprocedure;
        guard_sql text := format('(select tenancy.schema_guard(%L::regnamespace))',
                                 quote_ident(schema_name));
        rel record;
        distributed boolean := false;
      begin
        if runtime is null or schema_oid is null then
          return false;
        end if;
        if to_regclass('pg_catalog.pg_dist_schema') is not null then
          execute 'select exists (select from pg_catalog.pg_dist_schema d where d.schemaid = $1)'
            into distributed using schema_oid;
        end if;
        for rel in
          select c.oid, c.relname, c.relkind, c.relrowsecurity,
                 exists (select from pg_depend d
                         where d.classid = 'pg_class'::regclass and d.objid = c.oid
                           and d.deptype = 'i') as identity,
                 (select p.oid from pg_policy p
                  where p.polrelid = c.oid and p.polname = 'tenant_guard') as policy
          -- Through the relations' dependency on their namespace (indexed:
          -- pg_depend_reference_index), not a scan of pg_class by
          -- relnamespace (no index), whose cost grows with the tenant count.
          from pg_depend dep join pg_class c on c.oid = dep.objid
          where dep.refclassid = 'pg_namespace'::regclass and dep.refobjid = schema_oid
            and dep.classid = 'pg_class'::regclass and c.relkind in ('r', 'p', 'S')
        loop
          if rel.relkind = 'S' then
            if rel.identity and not distributed then
              -- Inserting into an identity column needs no privilege on its sequence.
              if has_sequence_privilege(runtime, rel.oid, 'usage')
                 or has_sequence_privilege(runtime, rel.oid, 'select')
                 or has_sequence_privilege(runtime, rel.oid, 'update') then
                execute format('revoke all on sequence %I.%I from %I',
                  schema_name, rel.relname, runtime);
              end if;
            elsif not has_sequence_privilege(runtime, rel.oid, 'usage') then
              execute format('grant usage, select on sequence %I.%I to %I',
                schema_name, rel.relname, runtime);
            end if;
            continue;
          end if;
          if not (has_table_privilege(runtime, rel.oid, 'select')
                  and has_table_privilege(runtime, rel.oid, 'insert')
                  and has_table_privilege(runtime, rel.oid, 'update')
                  and has_table_privilege(runtime, rel.oid, 'delete')) then
            execute format('grant select, insert, update, delete on %I.%I to %I',
              schema_name, rel.relname, runtime);
          end if;
          if distributed then
            continue;
          end if;
          if not rel.relrowsecurity then
            execute format('alter table %I.%I enable row level security', schema_name, rel.relname);
          end if;
          -- A FOR ALL policy with USING only checks new rows with it too.
          if rel.policy is null then
            execute format('create policy tenant_guard on %I.%I using (%s)',
              schema_name, rel.relname, guard_sql);
          -- The policy's own dependencies, read through the depender index
          -- (OFFSET 0 keeps the planner from taking the reference index on
          -- the guard function instead: every policy of every tenant, a
          -- scan that grows with the tenant count, 0.2 s at 10,000).
          elsif not (exists (select from (select d.refclassid, d.refobjid from pg_depend d
                                          where d.classid = 'pg_policy'::regclass
                                            and d.objid = rel.policy offset 0) deps
                             where deps.refclassid = 'pg_proc'::regclass
                               and deps.refobjid = guard_function)
                     and exists (select from (select d.refclassid, d.refobjid from pg_depend d
                                              where d.classid = 'pg_policy'::regclass
                                                and d.objid = rel.policy offset 0) deps
                                 where deps.refclassid = 'pg_namespace'::regclass
                                   and deps.refobjid = schema_oid)) then
            execute format('alter policy tenant_guard on %I.%I using (%s)',
              schema_name, rel.relname, guard_sql);
          end if;
        end loop;
        return true;
      end $$`)

    /**
     * A tenant schema: its tables secured, and USAGE for the runtime role.
     * Same signature as before: provisioning, every tenant migration script
     * and tenants:migrate call it as they did.
     */
    this.schema.raw(`
      create or replace function tenancy.secure_schema(tenant bigint) returns void
      language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
      declare
        schema_name text := 'tenant_' || tenant::text;
        runtime text := (select r.role_name from tenancy.runtime r);
      begin
        if not tenancy.secure_tables(schema_name) then
          return;
        end if;
        if not has_schema_privilege(runtime, schema_name, 'usage') then
          execute format('grant usage on schema %I to %I', schema_name, runtime);
        end if;
      end $$`)

    /**
     * A spare schema of the pool: its tables secured as a tenant's, and no
     * USAGE for the runtime role (the claim grants it). True when the spare
     * is secured, which is what `tenant_spares.secured` records.
     */
    this.schema.raw(`
      create function tenancy.secure_spare(spare bigint) returns boolean
      language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
      declare
        schema_name text := 'tenant_spare_' || spare::text;
        runtime text := (select r.role_name from tenancy.runtime r);
      begin
        if not tenancy.secure_tables(schema_name) then
          return false;
        end if;
        if has_schema_privilege(runtime, schema_name, 'usage') then
          execute format('revoke usage on schema %I from %I', schema_name, runtime);
        end if;
        return not has_schema_privilege(runtime, schema_name, 'usage');
      end $$`)

    /**
     * The claim of a spare by a sign-up, inside its transaction, in one
     * round trip: takes the first ready spare (`for update skip locked`:
     * two sign-ups never take the same one), records its version as the
     * tenant's, renames its schema to `tenant_<tenant>` and grants the
     * runtime role USAGE on it. Null when no spare is ready (the caller
     * builds the schema). Owner role only; a failing sign-up rolls all of
     * it back. Each DDL statement runs on its own (EXECUTE), so Citus
     * propagates it as it does secure_schema's grants.
     */
    this.schema.raw(`
      create function tenancy.claim_spare(tenant bigint, version text) returns bigint
      language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
      declare
        runtime text := (select r.role_name from tenancy.runtime r);
        spare bigint;
      begin
        if runtime is null then
          return null;
        end if;
        with claimed as (
          delete from public.tenant_spares
          where id = (select s.id from public.tenant_spares s
                      where s.migration_version = version and s.secured
                      order by s.id limit 1 for update skip locked)
          returning id, migration_version
        )
        update public.tenants t set migration_version = claimed.migration_version, updated_at = now()
        from claimed where t.id = tenant
        returning claimed.id into spare;
        if spare is null then
          return null;
        end if;
        execute format('alter schema %I rename to %I', 'tenant_spare_' || spare::text,
          'tenant_' || tenant::text);
        execute format('grant usage on schema %I to %I', 'tenant_' || tenant::text, runtime);
        return spare;
      end $$`)

    this.schema.raw('revoke all on all functions in schema tenancy from public')
    // The runtime role calls the guard through every new policy from now on;
    // ensureRuntimeRole (tenants:migrate) grants it too.
    this.schema.raw(`
      do $$
      declare
        runtime text := (select r.role_name from tenancy.runtime r);
      begin
        if runtime is not null and exists (select from pg_roles where rolname = runtime) then
          execute format('grant execute on function tenancy.schema_guard(regnamespace) to %I',
            runtime);
        end if;
      end $$`)
  }

  async down() {
    // Without the schema-bound guard, its policies go with it (tables keep
    // row-level security and refuse the runtime role until re-secured);
    // the previous secure_schema then puts a tenant-bound policy back on
    // every tenant table.
    this.schema.raw('drop function if exists tenancy.claim_spare(bigint, text)')
    this.schema.raw('drop function tenancy.secure_spare(bigint)')
    this.schema.raw('drop function tenancy.schema_guard(regnamespace) cascade')
    this.schema.raw(`
      create or replace function tenancy.secure_schema(tenant bigint) returns void
      language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
      declare
        schema_name text := 'tenant_' || tenant::text;
        runtime text := (select r.role_name from tenancy.runtime r);
        rel record;
        distributed boolean := false;
      begin
        if runtime is null
           or not exists (select from pg_namespace where nspname = schema_name) then
          return;
        end if;
        if not has_schema_privilege(runtime, schema_name, 'usage') then
          execute format('grant usage on schema %I to %I', schema_name, runtime);
        end if;
        if to_regclass('pg_catalog.pg_dist_schema') is not null then
          execute 'select exists (select from pg_catalog.pg_dist_schema d
                                  where d.schemaid = to_regnamespace($1))'
            into distributed using schema_name;
        end if;
        for rel in
          select c.oid, c.relname, c.relkind, c.relrowsecurity
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = schema_name and c.relkind in ('r', 'p', 'S')
        loop
          if rel.relkind = 'S' then
            if not has_sequence_privilege(runtime, rel.oid, 'usage') then
              execute format('grant usage, select on sequence %I.%I to %I',
                schema_name, rel.relname, runtime);
            end if;
            continue;
          end if;
          if not (has_table_privilege(runtime, rel.oid, 'select')
                  and has_table_privilege(runtime, rel.oid, 'insert')
                  and has_table_privilege(runtime, rel.oid, 'update')
                  and has_table_privilege(runtime, rel.oid, 'delete')) then
            execute format('grant select, insert, update, delete on %I.%I to %I',
              schema_name, rel.relname, runtime);
          end if;
          if distributed then
            continue;
          end if;
          if not rel.relrowsecurity then
            execute format('alter table %I.%I enable row level security', schema_name, rel.relname);
          end if;
          if not exists (select from pg_policy where polrelid = rel.oid and polname = 'tenant_guard') then
            execute format(
              'create policy tenant_guard on %I.%I using ((select tenancy.guard(%s)))',
              schema_name, rel.relname, tenant);
          end if;
        end loop;
      end $$`)
    this.schema.raw('drop function tenancy.secure_tables(text)')
    this.schema.raw('select tenancy.secure_schema(id) from public.tenants')
    this.schema.raw('alter table public.tenant_spares drop column secured')
  }
}
