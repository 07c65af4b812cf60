import type { HttpContext } from '@adonisjs/core/http'
import { readiness } from '#start/health'

export default class HealthController {
  /**
   * 200 while the process runs.
   */
  live() {
    return { status: 'ok' }
  }

  /**
   * 200 when PostgreSQL and Redis answer, else 503; a report per check
   * (its name and state only, see start/health.ts).
   */
  async ready({ response }: HttpContext) {
    const report = await readiness()
    return response.status(report.status === 'ok' ? 200 : 503).send(report)
  }
}
