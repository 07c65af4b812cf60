import { BaseCommand, flags } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'
import queueConfig from '#config/queue'
import { closeQueues, queueRedis } from '#queue/queues'
import { masters } from '#config/redis_options'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import metricsConfig from '#config/metrics'
import type { Server } from 'node:http'
import { registry } from '#jobs/main'

/**
 * The queue worker: confirms orders, restores stock of cancelled orders,
 * applies stock adjustments, and sweeps the outbox. SIGTERM (or SIGINT)
 * stops taking jobs, lets the running ones finish, then exits.
 */
export default class QueueWork extends BaseCommand {
  static commandName = 'queue:work'
  static description = 'Run the queue worker (orders, stock adjustments) and the outbox sweeper'
  static options: CommandOptions = { startApp: true, staysAlive: true }

  @flags.number({ description: 'Jobs run at once (default WORKER_CONCURRENCY or 8)' })
  declare concurrency?: number

  private handle?: WorkerHandle
  private metricsServer?: Server

  async run() {
    const policy = await evictionPolicy().catch((error: Error) => {
      this.logger.error(`Redis does not answer: ${error.message}`)
      return null
    })
    if (policy === null) {
      this.exitCode = 1
      return this.terminate()
    }
    if (policy !== 'noeviction') {
      this.logger.error(
        `Redis maxmemory-policy is "${policy}"; the queue needs "noeviction" (an evicting Redis silently drops jobs). ` +
          'Set "maxmemory-policy noeviction" in redis.conf or with CONFIG SET, then start the worker again.'
      )
      this.exitCode = 1
      return this.terminate()
    }

    if (metricsConfig.workerPort !== undefined) {
      const { serveWorkerMetrics, portOf } = await import('#metrics/worker_metrics')
      try {
        this.metricsServer = await serveWorkerMetrics(metricsConfig.workerPort, metricsConfig.host)
      } catch (error) {
        this.logger.error(
          `Cannot serve metrics on WORKER_METRICS_PORT=${metricsConfig.workerPort}: ${(error as Error).message}`
        )
        this.exitCode = 1
        return this.terminate()
      }
      this.logger.info(
        `worker metrics on http://${metricsConfig.host}:${portOf(this.metricsServer)}/metrics`
      )
    }

    const concurrency = this.concurrency ?? queueConfig.workerConcurrency
    this.handle = startWorkers({
      registry,
      concurrency,
      sweep: queueConfig.sweep,
    })
    this.app.terminating(async () => {
      this.logger.info('stopping: waiting for running jobs to finish')
      await this.handle?.close()
      await closeQueues()
      await new Promise((resolve) => this.metricsServer?.close(resolve) ?? resolve(undefined))
      this.logger.info('worker stopped')
    })
    this.logger.info(`worker started (concurrency ${concurrency}, pid ${process.pid})`)
  }
}

/**
 * Reads maxmemory-policy from INFO (works where CONFIG is disabled): of the
 * one Redis, or the first master of a cluster that does not say
 * `noeviction`.
 */
async function evictionPolicy(): Promise<string> {
  const client = queueRedis()
  await client.ping()
  const policies = await Promise.all(
    masters(client).map(async (node) => {
      const info = await node.info('memory')
      return info.match(/^maxmemory_policy:(\S+)/m)?.[1] ?? 'unknown'
    })
  )
  return policies.find((policy) => policy !== 'noeviction') ?? 'noeviction'
}
