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
    // Only the queue modules this process loaded (app/queue/shutdown.ts):
    // the relays still under way first, then the connections.
    const { closeLoadedQueues } = await import('#queue/shutdown')
    await closeLoadedQueues()
  }
}
