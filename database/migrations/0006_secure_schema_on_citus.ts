import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * `tenancy.secure_schema` on Citus (docs/design/isolation.md, "Citus").
 *
 * A tenant schema under schema-based sharding is a distributed schema: its
 * tables are shards on a worker, and Citus evaluates a table's policies
 * there. Citus refuses a sub-select in a policy of a distributed table,
 * and without one the guard would run on the worker, where the
 * coordinator's transaction-local seal does not exist (every query of the
 * runtime role would be refused). So on a distributed tenant schema the
 * function grants the runtime role its privileges and installs no RLS.
 *
 * On plain PostgreSQL (no `pg_dist_schema`), and for a tenant schema Citus
 * keeps local to the coordinator, it does exactly what it did before: the
 * grants, RLS and the `tenant_guard` policy on every table.
 */
function secureSchema(citusAware: boolean) {
  const detect = citusAware
    ? `
        if to_regclass('pg_catalog.pg_dist_schema') is not null then
          execute 'select exists (select from pg_catalog.pg_dist_schema d
                                  where d.schemaid = to_regnamespace($1))'
            into distributed using schema_name;
        end if;`
    : ''
  const skip = citusAware
    ? `
          if distributed then
            continue;
          end if;`
    : ''
  return `
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
        end if;${detect}
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
          end if;${skip}
          if not rel.relrowsecurity then
            execute format('alter table %I.%I enable row level security', schema_name, rel.relname);
          end if;
          if not exists (select from pg_policy where polrelid = rel.oid and polname = 'tenant_guard') then
            execute format(
              'create policy tenant_guard on %I.%I using ((select tenancy.guard(%s)))',
              schema_name, rel.relname, tenant);
          end if;
        end loop;
      end $$`
}

export default class extends BaseSchema {
  async up() {
    this.schema.raw(secureSchema(true))
    this.schema.raw('revoke all on function tenancy.secure_schema(bigint) from public')
  }

  async down() {
    this.schema.raw(secureSchema(false))
    this.schema.raw('revoke all on function tenancy.secure_schema(bigint) from public')
  }
}
