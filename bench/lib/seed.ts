import type pg from 'pg'
import type { Role } from '#auth/jwt'
import type { InProcessApp } from './app.ts'
import { parallelSql } from './database.ts'

/**
 * Seeding: tenants through the application's provisioner (or, in bulk,
 * through its compiled provisioning SQL over parallel connections), users
 * and login sessions by SQL, tokens signed with the application's signer.
 * Bulk rows are written inside the tenant's schema by SQL, never through
 * thousands of HTTP calls.
 */
export interface SeedUser {
  id: number
  tenantId: number
  role: Role
  token: string
}

export interface SeedTenant {
  id: number
  owner: SeedUser
  customers: SeedUser[]
  productIds: number[]
}

let sequence = 0
const tag = () => `${Date.now().toString(36)}${(++sequence).toString(36)}`

function schemaOf(app: InProcessApp, tenantId: number) {
  return app.quoteIdent(app.tenantSchema(tenantId))
}

/**
 * Products (with their opening stock recorded in the ledger) as SQL that
 * runs inside a tenant schema.
 */
export function productsSql(schema: string, count: number, stock: number) {
  if (count <= 0) return ''
  return `insert into ${schema}.products (name, sku, price, stock, description)
    select 'Bench product ' || g, 'SKU-' || lpad(g::text, 6, '0'), (1 + g % 500) + 0.99, ${stock},
           'Seeded by npm run bench'
    from generate_series(1, ${count}) g;
  insert into ${schema}.stock_movements (product_id, delta, reason, kind)
    select id, stock, 'initial stock', 'initial' from ${schema}.products where stock > 0`
}

/**
 * Users of the given role in each tenant, each with a login session and
 * an access token.
 */
export async function seedUsers(
  app: InProcessApp,
  client: pg.Client | pg.Pool,
  tenantIds: number[],
  role: Role,
  perTenant: number,
  passwordHash: string
): Promise<SeedUser[]> {
  if (tenantIds.length === 0 || perTenant === 0) return []
  const prefix = `bench_${tag()}_${role}`
  const { rows } = await client.query(
    `with u as (
       insert into public.users (tenant_id, username, email, password, role)
       select t, $1 || '_' || t || '_' || g, $1 || '_' || t || '_' || g || '@example.com', $2, $3
       from unnest($4::bigint[]) t, generate_series(1, $5::int) g
       returning id, tenant_id
     )
     insert into public.auth_sessions (user_id, tenant_id, expires_at)
     select id, tenant_id, now() + interval '1 day' from u
     returning id as session_id, user_id, tenant_id`,
    [prefix, passwordHash, role, tenantIds, perTenant]
  )
  return Promise.all(
    rows.map(async (row) => ({
      id: row.user_id,
      tenantId: row.tenant_id,
      role,
      token: await app.signAccessToken({
        userId: row.user_id,
        tenantId: row.tenant_id,
        role,
        sessionId: row.session_id,
      }),
    }))
  )
}

/**
 * One tenant made by the application's provisioner (as a sign-up does),
 * with `products` products of `stock` units each and `customers` customers.
 */
export async function seedTenant(
  app: InProcessApp,
  pool: pg.Pool,
  passwordHash: string,
  { products, stock, customers }: { products: number; stock: number; customers: number }
): Promise<SeedTenant> {
  const name = `bench-${tag()}`
  const { tenant, owner } = await new app.TenantProvisioner().provision({
    name: `Bench store ${name}`,
    owner: { username: `${name}-owner`, email: `${name}-owner@example.com`, passwordHash },
  })
  const { rows } = await pool.query(
    `insert into public.auth_sessions (user_id, tenant_id, expires_at)
     values ($1, $2, now() + interval '1 day') returning id`,
    [owner.id, tenant.id]
  )
  const ownerToken = await app.signAccessToken({
    userId: owner.id,
    tenantId: tenant.id,
    role: 'owner',
    sessionId: rows[0].id,
  })
  const schema = schemaOf(app, tenant.id)
  if (products > 0) await pool.query(productsSql(schema, products, stock))
  const ids = await pool.query(`select id from ${schema}.products order by id`)
  return {
    id: tenant.id,
    owner: { id: owner.id, tenantId: tenant.id, role: 'owner', token: ownerToken },
    customers: await seedUsers(app, pool, [tenant.id], 'customer', customers, passwordHash),
    productIds: ids.rows.map((row) => row.id),
  }
}

/**
 * `count` tenants created fast: their rows in one statement, then each
 * schema by the application's compiled provisioning SQL (plus optional
 * products) in its own transaction, over `connections` parallel
 * connections. Returns the new ids.
 */
export async function bulkTenants(
  app: InProcessApp,
  options: pg.ClientConfig,
  client: pg.Client | pg.Pool,
  count: number,
  {
    connections,
    products = 0,
    stock = 1000,
  }: { connections: number; products?: number; stock?: number }
): Promise<{ ids: number[]; ms: number }> {
  const name = `bench-bulk-${tag()}`
  const { rows } = await client.query(
    `insert into public.tenants (name, slug)
     select $1 || '-' || g, $1 || '-' || g from generate_series(1, $2::int) g
     returning id`,
    [name, count]
  )
  const ids: number[] = rows.map((row) => row.id)
  const ms = await parallelSql(
    options,
    ids,
    connections,
    async (connection, id) => {
      const schema = schemaOf(app, id)
      const sql = [await app.provisionSql(id, schema), productsSql(schema, products, stock)]
        .filter(Boolean)
        .join(';\n')
      await connection.query(sql)
    },
    { seeding: true }
  )
  return { ids, ms }
}
