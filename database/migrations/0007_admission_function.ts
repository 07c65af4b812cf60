import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * The request admission as one function of the platform schema `tenancy`
 * (docs/design/isolation.md, "Admission"), instead of a join of two
 * guarded tables.
 *
 * Every authenticated request checks, in its entry round trip, that the
 * user of its access token exists and is active and that its login
 * session is not revoked (app/auth/admission.ts). As a plain query of the
 * runtime role, that join of `public.users` and `public.auth_sessions`
 * paid row-level security on both: two `current_tenant()` InitPlans (a
 * SHA-256 of the seal each) and the planning of both policies, per request.
 *
 * `tenancy.admission(user, session)` runs as the owner (SECURITY DEFINER,
 * so no policy applies to its query) and restricts itself to the sealed
 * tenant: it reads `current_tenant()` once and looks at that tenant's
 * user and session only. Outside an entered transaction (no valid seal)
 * it returns nulls, so it tells nothing the runtime role could not read
 * through row-level security: the role, activity and session state of a
 * user of the tenant it already entered. PL/pgSQL (its plan is cached per
 * backend), no SET clause (like `current_tenant`): every name is schema
 * qualified and the runtime role can create no object that would shadow
 * one. Lives in `tenancy`, a local schema of the coordinator on Citus,
 * next to the platform tables it reads.
 *
 * The runtime role gets EXECUTE from `ensureRuntimeRole`
 * (app/tenancy/runtime_role.ts), run by every `tenants:migrate`.
 */
export default class extends BaseSchema {
  async up() {
    this.schema.raw(`
      create function tenancy.admission(
        user_id bigint,
        session_id uuid,
        out user_role text,
        out user_active boolean,
        out session_revoked boolean
      )
      language plpgsql stable security definer as $$
      declare
        tenant bigint := tenancy.current_tenant();
      begin
        if tenant is null then
          return;
        end if;
        select u.role, u.is_active, (s.id is null or s.revoked_at is not null)
          into user_role, user_active, session_revoked
        from public.users u
        left join public.auth_sessions s
          on s.id = admission.session_id and s.user_id = u.id and s.tenant_id = tenant
        where u.id = admission.user_id and u.tenant_id = tenant;
      end $$`)
    this.schema.raw('revoke all on function tenancy.admission(bigint, uuid) from public')
  }

  async down() {
    this.schema.raw('drop function if exists tenancy.admission(bigint, uuid)')
  }
}
