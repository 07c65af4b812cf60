import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Isolation enforced by PostgreSQL (docs/design/isolation.md).
 *
 * Schema `tenancy`, owned by the owner role, holds the only door into a
 * tenant: `tenancy.enter(tenant)` (SECURITY DEFINER) accepts being called
 * by the first statement of a transaction only, and records the tenant in
 * two transaction-local settings, its id and a seal (a SHA-256 of a secret
 * only the owner role can read, the tenant id, the backend and the
 * transaction's start). `tenancy.current_tenant()` returns the id only when
 * the seal matches, so SQL that sets the id itself gets nothing.
 *
 * Row-level security keys the platform tables on `current_tenant()`, and
 * every tenant table gets a policy that raises `permission denied` unless
 * the transaction entered that tenant (`tenancy.guard`, installed by
 * `tenancy.secure_schema` after provisioning and after every tenant
 * migration run, for whatever tables the schema holds).
 *
 * The runtime role is created and granted by `ensureRuntimeRole`
 * (app/tenancy/runtime_role.ts), which `tenants:migrate` runs every time.
 */
export default class extends BaseSchema {
  async up() {
    /**
     * On Citus with schema-based sharding on, a new schema would become a
     * distributed schema (its tables shards on a worker): `tenancy` stays a
     * plain local schema of the coordinator, next to the platform tables.
     * On plain PostgreSQL the setting is an inert placeholder.
     */
    this.schema.raw('set local citus.enable_schema_based_sharding = off')
    this.schema.raw('create schema tenancy')
    this.schema.raw(`
      create table tenancy.secret (
        id boolean primary key default true check (id),
        value text not null
      )`)
    this.schema.raw(`
      insert into tenancy.secret (value)
      values (encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
        || clock_timestamp()::text, 'UTF8')), 'hex'))`)
    // The runtime role of this database (one row), set by ensureRuntimeRole.
    this.schema.raw(`
      create table tenancy.runtime (
        id boolean primary key default true check (id),
        role_name text not null
      )`)

    this.schema.raw(`
      create function tenancy.seal(tenant bigint) returns text
      language sql stable set search_path = pg_catalog, pg_temp as $$
        select encode(sha256(convert_to(s.value || ':' || tenant::text || ':'
          || pg_backend_pid()::text || ':' || extract(epoch from transaction_timestamp())::text,
          'UTF8')), 'hex')
        from tenancy.secret s
      $$`)

    this.schema.raw(`
      create function tenancy.enter(tenant bigint) returns text
      language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
      declare
        tenant_status text;
      begin
        if statement_timestamp() <> transaction_timestamp()
           or coalesce(current_setting('tenancy.tenant_id', true), '') <> '' then
          raise exception 'a tenant is entered only by the first statement of its transaction'
            using errcode = '42501';
        end if;
        select t.status into tenant_status from public.tenants t where t.id = tenant;
        if tenant_status is null then
          return null;
        end if;
        perform set_config('tenancy.tenant_id', tenant::text, true);
        perform set_config('tenancy.seal', tenancy.seal(tenant), true);
        return tenant_status;
      end $$`)

    /**
     * The hot path: row-level security calls it (through `guard` or
     * directly) once per table reference per query. PL/pgSQL (its query
     * plan is cached per backend), the seal formula inlined, and no SET
     * clause (about 4× cheaper than with one): every name is schema
     * qualified, and the runtime role can create no object anywhere, so
     * nothing can shadow an operator or a function it uses.
     */
    this.schema.raw(`
      create function tenancy.current_tenant() returns bigint
      language plpgsql stable security definer as $$
      declare
        tenant text := pg_catalog.current_setting('tenancy.tenant_id', true);
        secret text;
      begin
        if tenant is null or tenant !~ '^[1-9][0-9]{0,17}$' then
          return null;
        end if;
        select s.value into secret from tenancy.secret s;
        -- the formula of tenancy.seal
        if pg_catalog.current_setting('tenancy.seal', true) is distinct from
           pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(secret || ':' || tenant || ':'
             || pg_catalog.pg_backend_pid()::text || ':'
             || extract(epoch from pg_catalog.transaction_timestamp())::text, 'UTF8')), 'hex') then
          return null;
        end if;
        return tenant::bigint;
      end $$`)

    this.schema.raw(`
      create function tenancy.guard(tenant bigint) returns boolean
      language plpgsql stable security definer as $$
      begin
        if tenancy.current_tenant() is distinct from tenant then
          raise exception 'permission denied for the tables of tenant %', tenant
            using errcode = '42501';
        end if;
        return true;
      end $$`)

    /**
     * Grants the runtime role what it needs on one tenant schema and puts
     * the guard policy on every table of it. Generic: it looks at what the
     * schema holds, so tables added by later tenant migrations are covered.
     * Changes only what is missing (cheap to run again).
     *
     * On Citus, a tenant schema under schema-based sharding is distributed:
     * its tables are shards on a worker, where Citus evaluates policies and
     * where the coordinator's transaction-local seal does not exist (and
     * Citus refuses a sub-select in such a policy). There the function
     * grants and installs no RLS (docs/design/isolation.md, "Citus"). On
     * plain PostgreSQL (no pg_dist_schema), and for a schema Citus keeps
     * local, it installs the grants, RLS and the `tenant_guard` policy.
     */
    this.schema.raw(`
      create function tenancy.secure_schema(tenant bigint) returns void
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
          -- A FOR ALL policy with USING only checks new rows with it too
          -- (WITH CHECK defaults to USING): half the catalog size per table.
          if not exists (select from pg_policy where polrelid = rel.oid and polname = 'tenant_guard') then
            execute format(
              'create policy tenant_guard on %I.%I using ((select tenancy.guard(%s)))',
              schema_name, rel.relname, tenant);
          end if;
        end loop;
      end $$`)

    this.schema.raw('revoke all on all functions in schema tenancy from public')

    // Platform tables: the runtime role sees its tenant's rows only.
    this.schema.raw('alter table public.tenants enable row level security')
    this.schema.raw(
      'create policy tenant_own on public.tenants using (id = (select tenancy.current_tenant()))'
    )
    for (const table of ['users', 'auth_sessions']) {
      this.schema.raw(`alter table public.${table} enable row level security`)
      this.schema.raw(
        `create policy tenant_own on public.${table}
         using (tenant_id = (select tenancy.current_tenant()))
         with check (tenant_id = (select tenancy.current_tenant()))`
      )
    }
    this.schema.raw('alter table public.refresh_tokens enable row level security')
    this.schema.raw(
      `create policy tenant_own on public.refresh_tokens
       using (exists (select 1 from public.auth_sessions s where s.id = session_id))`
    )
  }

  async down() {
    this.schema.raw('drop policy if exists tenant_own on public.refresh_tokens')
    this.schema.raw('alter table public.refresh_tokens disable row level security')
    for (const table of ['auth_sessions', 'users', 'tenants']) {
      this.schema.raw(`drop policy if exists tenant_own on public.${table}`)
      this.schema.raw(`alter table public.${table} disable row level security`)
    }
    this.schema.raw('drop schema tenancy cascade')
  }
}
