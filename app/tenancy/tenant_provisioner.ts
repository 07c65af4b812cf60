import string from '@adonisjs/core/helpers/string'
import emitter from '@adonisjs/core/services/emitter'
import { platformDb } from '#tenancy/platform'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { provisionSql, runScript, type CompiledMigration } from '#tenancy/tenant_migrations'
import { quoteIdent, tenantSchema } from '#tenancy/schema'
import { TenantPool } from '#tenancy/tenant_pool'

export interface ProvisionInput {
  name: string
  owner: { username: string; email: string; passwordHash: string }
}

export interface ProvisionedTenant {
  tenant: { id: number; name: string; slug: string; schemaName: string; status: string }
  owner: { id: number; username: string; email: string; role: 'owner'; tenantId: number }
  /** how the schema came to be: a spare of the pool renamed, or built in the transaction */
  schema: SchemaOrigin
}

export type SchemaOrigin = 'claimed' | 'built'

export type ProvisionStep = 'tenant' | 'schema' | 'owner'

/**
 * Onboards a tenant in one transaction: the tenant row, its schema with
 * every tenant table at the latest tenant-migration version (recorded in the
 * schema's own ledger), and its owner. Any failure rolls all of it back:
 * PostgreSQL DDL is transactional, so no row and no schema remain.
 *
 * The schema is claimed from the pool of ready schemas when it has one
 * (one round trip: see TenantPool.claim), else built by one multi-statement
 * query compiled once per process. Sign-up never builds a spare: after it
 * commits, it asks the worker to refill the pool.
 */
export class TenantProvisioner {
  /**
   * `afterStep` runs after each step inside the transaction; tests use it
   * to inject failures.
   */
  constructor(
    private afterStep?: (step: ProvisionStep) => void | Promise<void>,
    private pool: TenantPool = new TenantPool()
  ) {}

  /**
   * `inTransaction` runs last, inside the same transaction (sign-up starts
   * the owner's login session there, so a failure leaves no tenant behind).
   */
  async provision(
    input: ProvisionInput,
    inTransaction?: (
      trx: TransactionClientContract,
      provisioned: ProvisionedTenant
    ) => Promise<void>
  ): Promise<ProvisionedTenant> {
    const result = await platformDb().transaction(async (trx) => {
      const tenant = await this.insertTenant(trx, input.name)
      await this.afterStep?.('tenant')

      const schema = await this.createOrClaimSchema(trx, tenant.id)
      await this.afterStep?.('schema')

      const { rows } = await trx.rawQuery(
        `insert into public.users (tenant_id, username, email, password, role)
         values (?, ?, ?, ?, 'owner')
         returning id, username, email, role, tenant_id`,
        [tenant.id, input.owner.username, input.owner.email, input.owner.passwordHash]
      )
      await this.afterStep?.('owner')

      const owner = rows[0]
      const provisioned = {
        schema,
        tenant,
        owner: {
          id: owner.id,
          username: owner.username,
          email: owner.email,
          role: 'owner' as const,
          tenantId: tenant.id,
        },
      }
      await inTransaction?.(trx, provisioned)
      return provisioned
    })

    await emitter.emit('tenant:provisioned', {
      tenantId: result.tenant.id,
      schema: result.tenant.schemaName,
      ownerId: result.owner.id,
      spareClaimed: result.schema === 'claimed',
    })
    return result
  }

  /**
   * The tenant's schema, inside the caller's transaction: a spare of the
   * pool renamed to `tenant_<id>` when one is ready, else built at the
   * latest tenant migration (or at the last of `migrations`: an import of
   * an older archive; spares are always at the latest, so that path
   * builds). Either way the schema is complete and recorded in its ledger
   * and in `tenants.migration_version` when this returns.
   *
   * This is the one seam every new tenant schema passes: a step that each
   * tenant schema needs whatever its origin (per-tenant role, grants) goes
   * right after the claim-or-build below.
   */
  async createOrClaimSchema(
    trx: TransactionClientContract,
    tenantId: number,
    migrations?: CompiledMigration[]
  ): Promise<SchemaOrigin> {
    let origin: SchemaOrigin = 'built'
    if (migrations === undefined && (await this.pool.claim(trx, tenantId)) !== null) {
      // Secured when it was built; the claim opened it to this tenant alone
      // (the guard is bound to the schema: docs/design/isolation.md).
      origin = 'claimed'
    } else {
      const schema = quoteIdent(tenantSchema(tenantId))
      await runScript(trx, await provisionSql(tenantId, schema, migrations))
    }
    return origin
  }

  /**
   * Inserts the tenant row with a slug derived from the name. A taken name
   * is a unique violation (409 on "name"). A slug taken by another name
   * gets a numeric suffix: the same statement finds the first free one
   * (one above the highest suffix in use), so a popular name costs one
   * INSERT, not one per taken suffix. Only a concurrent sign-up taking the
   * very same slug makes it try again.
   */
  async insertTenant(trx: TransactionClientContract, name: string) {
    const base = slugFor(name)
    const stem = base.slice(0, 72)
    for (;;) {
      const { rows } = await trx.rawQuery(INSERT_TENANT_SQL, [base, stem, name])
      if (rows[0]) {
        const row = rows[0]
        return {
          id: row.id,
          name: row.name,
          slug: row.slug,
          schemaName: row.schema_name,
          status: row.status,
        }
      }
    }
  }
}

/**
 * `base` when free, else `<stem>-<n>` with n one above the highest
 * numeric suffix taken (at least 2). Slugs are at most 80 characters: a
 * stem of 72, a dash and up to 7 digits.
 */
const INSERT_TENANT_SQL = `
  with wanted as (select ?::text as base, ?::text as stem),
  free as (
    select case
      when not exists (select 1 from public.tenants t where t.slug = wanted.base) then wanted.base
      else wanted.stem || '-' || (
        select coalesce(max(substring(t.slug from length(wanted.stem) + 2)::int), 1) + 1
        from public.tenants t
        where left(t.slug, length(wanted.stem) + 1) = wanted.stem || '-'
          and substring(t.slug from length(wanted.stem) + 2) ~ '^[0-9]{1,7}$')
    end as slug
    from wanted
  )
  insert into public.tenants (name, slug)
  select ?, slug from free
  on conflict (slug) do nothing
  returning id, name, slug, schema_name, status`

/**
 * A URL-safe slug that always contains a letter, so a slug can never be
 * mistaken for a tenant id.
 */
export function slugFor(name: string): string {
  const slug = string.slug(name, { lower: true, strict: true }).slice(0, 72) || 'store'
  return /[a-z]/.test(slug) ? slug : `store-${slug}`
}
