import { args, BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import { closeQueues, queue } from '#queue/queues'
import { QUEUE_NAMES } from '#queue/jobs'

export default class QueueRetry extends BaseCommand {
  static commandName = 'queue:retry'
  static description = 'Run failed jobs again: one by id, or every failed job with --all'
  static options: CommandOptions = { startApp: true }

  @args.string({ description: 'Id of the failed job (see queue:failed)', required: false })
  declare jobId?: string

  @flags.boolean({ description: 'Retry every failed job of every queue' })
  declare all?: boolean

  async run() {
    try {
      if (!this.jobId && !this.all) {
        this.logger.error('Give a job id, or --all')
        this.exitCode = 1
        return
      }
      let retried = 0
      for (const name of QUEUE_NAMES) {
        if (this.all) {
          const failed = await queue(name).getFailedCount()
          await queue(name).retryJobs({ state: 'failed', count: 1000 })
          retried += failed
          continue
        }
        const job = await queue(name).getJob(this.jobId!)
        if (job && (await job.getState()) === 'failed') {
          await job.retry('failed')
          retried++
        }
      }
      if (retried === 0) {
        this.logger.error(this.all ? 'No failed jobs' : `No failed job with id ${this.jobId}`)
        this.exitCode = this.all ? 0 : 1
        return
      }
      this.logger.success(`Retried ${retried} job(s)`)
    } finally {
      await closeQueues()
    }
  }
}
