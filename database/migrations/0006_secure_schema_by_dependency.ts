import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * `tenancy.secure_schema` (0004) found a schema's tables with a join of
 * pg_class on `relnamespace`, which no catalog index covers: a sequential
 * scan of pg_class, whose size grows with the number of tenant schemas
 * (22.8 ms per call at 3,000 small schemas, ~40k pg_class rows), paid by
 * every provisioning, every tenant migration and, for every tenant, by
 * `tenants:migrate`'s re-securing pass: quadratic in the tenant count.
 *
 * A relation records a dependency on its namespace in pg_depend (that is
 * how DROP SCHEMA … CASCADE finds it), under the index
 * `pg_depend_reference_index` (refclassid, refobjid): the same rows in
 * 0.1 ms, whatever the number of schemas. Tables, partitioned tables and
 * sequences (owned ones included) each have that row; indexes and TOAST
 * tables, which the function does not handle, depend on their table
 * instead. Everything else is unchanged (CREATE OR REPLACE keeps the
 * function's owner and privileges).
 */
function secureSchema(relations: string) {
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
      end if;
      if to_regclass('pg_catalog.pg_dist_schema') is not null then
        execute 'select exists (select from pg_catalog.pg_dist_schema d
                                where d.schemaid = to_regnamespace($1))'
          into distributed using schema_name;
      end if;
      for rel in ${relations}
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
    end $$`
}

const BY_DEPENDENCY = `
        select c.oid, c.relname, c.relkind, c.relrowsecurity
        from pg_depend d join pg_class c on c.oid = d.objid
        where d.refclassid = 'pg_namespace'::regclass
          and d.refobjid = to_regnamespace(schema_name)
          and d.classid = 'pg_class'::regclass
          and c.relkind in ('r', 'p', 'S')`

const BY_NAMESPACE_SCAN = `
        select c.oid, c.relname, c.relkind, c.relrowsecurity
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = schema_name and c.relkind in ('r', 'p', 'S')`

export default class extends BaseSchema {
  async up() {
    this.schema.raw(secureSchema(BY_DEPENDENCY))
  }

  async down() {
    this.schema.raw(secureSchema(BY_NAMESPACE_SCAN))
  }
}
