import { BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { closeQueues } from '#queue/queues'
import { queueStatus } from '#queue/status'
import { webhookStatus } from '#webhooks/status'

export default class WebhooksStatus extends BaseCommand {
  static commandName = 'webhooks:status'
  static description =
    'Webhook deliveries across tenants: backlog by state, the oldest pending one, failing endpoints'
  static options: CommandOptions = { startApp: true }

  @flags.boolean({ description: 'Print JSON' })
  declare json?: boolean

  async run() {
    try {
      const [status, queues] = await Promise.all([webhookStatus(), queueStatus(['webhooks'])])
      const queue = queues.queues[0]
      if (this.json) {
        this.logger.log(JSON.stringify({ ...status, queue }, null, 2))
        return
      }
      const { pending, delivered, failed } = status.deliveries
      this.logger.log(`Deliveries: ${pending} pending, ${delivered} delivered, ${failed} failed`)
      this.logger.log(
        `Queue "webhooks": ${queue.waiting} waiting, ${queue.active} active, ${queue.delayed} delayed (retries), ` +
          `${queue.failed} failed; ${queue.completed_last_minute} done in the last minute`
      )
      const oldest = status.oldest_pending
      this.logger.log(
        oldest
          ? `Oldest pending delivery: tenant ${oldest.tenant_id}, delivery ${oldest.delivery_id}, ${oldest.age_seconds} s old, ${oldest.attempts} attempts`
          : 'No pending delivery'
      )
      if (status.failing_endpoints.length === 0) {
        this.logger.log('No failing endpoint')
        return
      }
      const table = this.ui
        .table()
        .head(['Tenant', 'Endpoint', 'URL', 'Active', 'Failures', 'Disabled reason'])
      for (const endpoint of status.failing_endpoints) {
        table.row([
          String(endpoint.tenant_id),
          String(endpoint.endpoint_id),
          endpoint.url.slice(0, 60),
          endpoint.is_active ? 'yes' : 'no',
          String(endpoint.consecutive_failures),
          (endpoint.disabled_reason ?? '').slice(0, 60),
        ])
      }
      table.render()
    } finally {
      await closeQueues()
    }
  }
}
