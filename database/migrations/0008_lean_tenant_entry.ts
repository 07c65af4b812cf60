import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * The tenant entry without its two SET clauses (docs/design/isolation.md,
 * "Cost").
 *
 * `tenancy.enter` ran with `set search_path = pg_catalog, pg_temp` and
 * called `tenancy.seal`, a SQL function with the same clause. A function's
 * SET clause saves and restores the setting on every call, and a SQL
 * function that cannot be inlined is parsed and planned on every call: a
 * transaction of `BEGIN; <entry>; COMMIT` took 0.535 ms, an empty one
 * 0.09–0.12 ms (pgbench, one client), and every request and job enters.
 *
 * The same checks and the same seal, written like `current_tenant` and
 * `admission`: PL/pgSQL (its plans are cached per backend, and it is called
 * before the entry changes the search_path, so they stay valid), no SET
 * clause, every function and table schema qualified, the seal formula
 * inline. Nothing can shadow a name it uses: the runtime role can create
 * no object anywhere, not even a temporary one (app/tenancy/runtime_role.ts),
 * and pg_catalog comes first for functions and operators. That
 * transaction now takes 0.176 ms.
 *
 * `tenancy.seal` stays (same formula; `current_tenant` inlines it too).
 */
const SEAL_FORMULA = `pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(secret || ':'
          || tenant::text || ':' || pg_catalog.pg_backend_pid()::text || ':'
          || extract(epoch from pg_catalog.transaction_timestamp())::text, 'UTF8')), 'hex')`

/**
 * `tenancy.enter` as this migration defines it (`lean`), or as migration
 * 0004 did: the same checks and settings, and exactly these differences.
 */
function enterFunction(lean: boolean): string {
  const pg = lean ? 'pg_catalog.' : ''
  const setClause = lean ? '' : ' set search_path = pg_catalog, pg_temp'
  const seal = lean ? SEAL_FORMULA : 'tenancy.seal(tenant)'
  return `
      create or replace function tenancy.enter(tenant bigint) returns text
      language plpgsql volatile security definer${setClause} as $$
      declare
        tenant_status text;
        secret text;
      begin
        if ${pg}statement_timestamp() <> ${pg}transaction_timestamp()
           or coalesce(${pg}current_setting('tenancy.tenant_id', true), '') <> '' then
          raise exception 'a tenant is entered only by the first statement of its transaction'
            using errcode = '42501';
        end if;
        select t.status into tenant_status from public.tenants t where t.id = tenant;
        if tenant_status is null then
          return null;
        end if;
        ${lean ? 'select s.value into secret from tenancy.secret s;' : ''}
        perform ${pg}set_config('tenancy.tenant_id', tenant::text, true);
        perform ${pg}set_config('tenancy.seal', ${seal}, true);
        return tenant_status;
      end $$`
}

export default class extends BaseSchema {
  async up() {
    this.schema.raw(enterFunction(true))
  }

  async down() {
    this.schema.raw(enterFunction(false))
  }
}
