import { BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { closeQueues, queue } from '#queue/queues'
import { QUEUE_NAMES } from '#queue/jobs'

export default class QueueFailed extends BaseCommand {
  static commandName = 'queue:failed'
  static description = 'List failed jobs (newest first)'
  static options: CommandOptions = { startApp: true }

  @flags.number({ description: 'How many per queue (default 50)' })
  declare limit?: number

  async run() {
    try {
      const table = this.ui
        .table()
        .head(['Queue', 'Job id', 'Tenant', 'Ref', 'Attempts', 'Failed at', 'Reason'])
      let count = 0
      for (const name of QUEUE_NAMES) {
        const jobs = await queue(name).getFailed(0, (this.limit ?? 50) - 1)
        for (const job of jobs) {
          count++
          table.row([
            name,
            String(job.id),
            String(job.data?.tenantId ?? '?'),
            String(job.data?.refId ?? '?'),
            String(job.attemptsMade),
            job.finishedOn ? new Date(job.finishedOn).toISOString() : '',
            (job.failedReason ?? '').slice(0, 120),
          ])
        }
      }
      if (count === 0) {
        this.logger.info('No failed jobs')
        return
      }
      table.render()
    } finally {
      await closeQueues()
    }
  }
}
