import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * No query looks products up by `assigned_to` (the list filters and sorts
 * by other columns; staff rights are checked on the product row already
 * found), yet the planner opens every index of `products` for every query
 * of it, and each backend caches each index of each tenant schema it
 * visits: about 4 KiB of backend memory per tenant and a little planning
 * time on a backend's first query of a tenant (docs/design/pool_slices.md).
 *
 * One statement per step (Citus forwards DROP INDEX verbatim).
 */
export default class extends BaseSchema {
  async up() {
    this.schema.raw('drop index if exists products_assigned_to_index')
  }

  async down() {
    this.schema.raw(
      'create index if not exists products_assigned_to_index on products (assigned_to)'
    )
  }
}
