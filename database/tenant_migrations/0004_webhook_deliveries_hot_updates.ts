import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * A delivery's outcome is an update of one row by its key, several times a
 * second per tenant under load (docs/design/webhooks.md, "Database cost").
 *
 * - The partial index on pending deliveries goes. No query needs it
 *   (`webhooks:status` counts every state in one scan of the table anyway),
 *   and it cost every outcome twice: its predicate names `status`, so no
 *   update of a delivery could be HOT (each wrote an entry into all five
 *   indexes), and without fresh statistics the planner preferred it to the
 *   primary key for "these ids, still pending", reading every pending
 *   delivery of the tenant, and the index entries of every delivery ever
 *   made, for each outcome.
 * - Pages are filled to 70 %, so an outcome's new row version can go on
 *   the page of the old one: a HOT update, no index entry written at all
 *   (109 of 200 outcomes recorded at once, in a test; page pruning frees
 *   the room again without a vacuum). The setting applies to pages written
 *   from now on.
 *
 * One statement per step (Citus forwards DROP INDEX verbatim; one
 * subcommand per ALTER TABLE).
 */
export default class extends BaseSchema {
  async up() {
    this.schema.raw('drop index if exists webhook_deliveries_pending_index')
    this.schema.raw('alter table webhook_deliveries set (fillfactor = 70)')
  }

  async down() {
    this.schema.raw('alter table webhook_deliveries reset (fillfactor)')
    this.schema.raw(
      "create index if not exists webhook_deliveries_pending_index on webhook_deliveries (created_at) where status = 'pending'"
    )
  }
}
