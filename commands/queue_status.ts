import { BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { closeQueues } from '#queue/queues'
import { queueStatus } from '#queue/status'
import { QUEUE_NAMES } from '#queue/jobs'
import { webhookStatus } from '#webhooks/status'

export default class QueueStatus extends BaseCommand {
  static commandName = 'queue:status'
  static description =
    'Per-queue job counts, throughput of the last minute, and the oldest pending order across tenants'
  static options: CommandOptions = { startApp: true }

  @flags.boolean({ description: 'Print JSON' })
  declare json?: boolean

  async run() {
    try {
      const [status, webhooks] = await Promise.all([queueStatus(QUEUE_NAMES), webhookStatus()])
      if (this.json) {
        this.logger.log(
          JSON.stringify({ ...status, webhook_deliveries: webhooks.deliveries }, null, 2)
        )
        return
      }
      const table = this.ui
        .table()
        .head(['Queue', 'Waiting', 'Active', 'Delayed', 'Failed', 'Completed/min', 'Failed/min'])
      for (const queue of status.queues) {
        table.row([
          queue.name,
          String(queue.waiting),
          String(queue.active),
          String(queue.delayed),
          String(queue.failed),
          String(queue.completed_last_minute),
          String(queue.failed_last_minute),
        ])
      }
      table.render()
      const oldest = status.oldest_pending_order
      this.logger.log(
        oldest
          ? `Oldest pending order: tenant ${oldest.tenant_id}, order ${oldest.order_id}, ${oldest.age_seconds} s old`
          : 'No pending order'
      )
      this.logger.log(
        `Pending orders: ${status.pending_orders}; outbox rows: ${status.outbox_rows}`
      )
      this.logger.log(
        `Webhook deliveries: ${webhooks.deliveries.pending} pending, ${webhooks.deliveries.failed} failed ` +
          `(details: webhooks:status)`
      )
    } finally {
      await closeQueues()
    }
  }
}
