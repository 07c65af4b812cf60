import type { ApplicationService } from '@adonisjs/core/types'

/**
 * Closes this process's queue producer connections when the application
 * terminates (API shutdown, end of a command or of the test run), so a
 * graceful stop leaves no Redis connection behind.
 */
export default class QueueProvider {
  constructor(protected app: ApplicationService) {}

  async shutdown() {
    // Only the queue modules this process loaded (app/queue/shutdown.ts).
    const { closeLoadedQueues } = await import('#queue/shutdown')
    await closeLoadedQueues()
  }
}
