import type { ApplicationService } from '@adonisjs/core/types'

/**
 * Closes this process's queue producer connections when the application
 * terminates (API shutdown, end of a command or of the test run), so a
 * graceful stop leaves no Redis connection behind. The relays still under
 * way (work committed just before the stop) are let finish first.
 */
export default class QueueProvider {
  constructor(protected app: ApplicationService) {}

  async shutdown() {
    const { closeQueues } = await import('#queue/queues')
    const { closePoolQueue } = await import('#queue/pool_refill')
    const { settleRelays } = await import('#queue/publisher')
    await settleRelays()
    await Promise.all([closeQueues(), closePoolQueue()])
  }
}
