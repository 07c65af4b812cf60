import { BaseCommand } from '@adonisjs/core/ace'
import type { CommandOptions } from '@adonisjs/core/types/ace'

/**
 * Deletes expired and revoked login sessions with their refresh tokens,
 * and expired refresh tokens. Safe to run at any time (e.g. hourly from
 * cron): a purged session's access tokens stay refused.
 */
export default class AuthPurge extends BaseCommand {
  static commandName = 'auth:purge'
  static description = 'Delete expired and revoked login sessions and refresh tokens'
  static options: CommandOptions = { startApp: true }

  async run() {
    const { purgeSessions } = await import('#auth/refresh_tokens')
    const { sessions, tokens } = await purgeSessions()
    this.logger.success(`Purged ${sessions} sessions and ${tokens} refresh tokens`)
  }
}
