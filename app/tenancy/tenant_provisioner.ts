import string from '@adonisjs/core/helpers/string'
import emitter from '@adonisjs/core/services/emitter'
import { platformDb } from '#tenancy/platform'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { provisionSql, runScript } from '#tenancy/tenant_migrations'
import { quoteIdent, tenantSchema } from '#tenancy/schema'

export interface ProvisionInput {
  name: string
  owner: { username: string; email: string; passwordHash: string }
}

export interface ProvisionedTenant {
  tenant: { id: number; name: string; slug: string; schemaName: string; status: string }
  owner: { id: number; username: string; email: string; role: 'owner'; tenantId: number }
}

export type ProvisionStep = 'tenant' | 'schema' | 'owner'

/**
 * Onboards a tenant in one transaction: the tenant row, its schema with
 * every tenant table at the latest tenant-migration version (recorded in the
 * schema's own ledger), and its owner. Any failure rolls all of it back:
 * PostgreSQL DDL is transactional, so no row and no schema remain.
 *
 * The schema is created by a script compiled once per process and sent by
 * `runScript`: one multi-statement query on plain PostgreSQL; on Citus the
 * index statements go on their own (Citus forwards those verbatim to its
 * workers, which refuse a multi-statement string), all in this transaction.
 */
export class TenantProvisioner {
  /**
   * `afterStep` runs after each step inside the transaction; tests use it
   * to inject failures.
   */
  constructor(private afterStep?: (step: ProvisionStep) => void | Promise<void>) {}

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

      await runScript(trx, await provisionSql(tenant.id, quoteIdent(tenantSchema(tenant.id))))
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
    })
    return result
  }

  /**
   * Inserts the tenant row with a slug derived from the name. A taken name
   * is a unique violation (409 on "name"). A slug taken by another name
   * gets a numeric suffix: the same statement finds the first free one
   * (one above the highest suffix in use), so a popular name costs one
   * INSERT, not one per taken suffix. Only a concurrent sign-up taking the
   * very same slug makes it try again.
   */
  private async insertTenant(trx: TransactionClientContract, name: string) {
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
