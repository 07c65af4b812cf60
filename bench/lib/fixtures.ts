import type { BenchContext } from './context.ts'
import { seedTenant, type SeedTenant } from './seed.ts'

/**
 * Tenants shared by several scenarios and floors, created once per run.
 */
const cache = new WeakMap<BenchContext, Map<string, Promise<unknown>>>()

export function once<T>(ctx: BenchContext, key: string, make: () => Promise<T>): Promise<T> {
  let entries = cache.get(ctx)
  if (!entries) cache.set(ctx, (entries = new Map()))
  if (!entries.has(key)) entries.set(key, make())
  return entries.get(key) as Promise<T>
}

/**
 * The read tenant: 1,000 products, read by its owner (who sees them all).
 */
export function readTenant(ctx: BenchContext): Promise<SeedTenant> {
  return once(ctx, 'read', async () => {
    ctx.log(`seeding the read tenant (${ctx.sizes.readProducts} products)…`)
    return seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
      products: ctx.sizes.readProducts,
      stock: 1_000_000,
      customers: 0,
    })
  })
}

/**
 * The order tenants: each with products of ample stock (no order is ever
 * rejected for stock) and one customer who places the orders.
 */
export function orderTenants(ctx: BenchContext): Promise<SeedTenant[]> {
  return once(ctx, 'orders', async () => {
    ctx.log(`seeding ${ctx.sizes.pipelineTenants} order tenants…`)
    const tenants: SeedTenant[] = []
    for (let index = 0; index < ctx.sizes.pipelineTenants; index++) {
      tenants.push(
        await seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
          products: ctx.sizes.pipelineProducts,
          stock: 100_000_000,
          customers: 1,
        })
      )
    }
    return tenants
  })
}

/**
 * A tenant for write load: products to order from, an owner who creates
 * products, a customer who places orders.
 */
export function writeTenant(ctx: BenchContext): Promise<SeedTenant> {
  return once(ctx, 'write', () =>
    seedTenant(ctx.app, ctx.pool, ctx.passwordHash, {
      products: 1000,
      stock: 100_000_000,
      customers: 1,
    })
  )
}

export function pick<T>(list: T[]): T {
  return list[Math.floor(Math.random() * list.length)]
}
