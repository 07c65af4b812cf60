import type { HttpContext } from '@adonisjs/core/http'
import AppException from '#exceptions/app_exception'
import { apiRegistry } from '#metrics/api_metrics'
import { scrapeAllowed } from '#metrics/common'

export default class MetricsController {
  /**
   * The API process's metrics in Prometheus text format; with
   * METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`.
   */
  async show({ request, response }: HttpContext) {
    if (!scrapeAllowed(request.header('authorization'))) {
      response.header('www-authenticate', 'Bearer')
      throw AppException.unauthorized('A valid metrics token is required')
    }
    const body = await apiRegistry.metrics()
    response.header('content-type', apiRegistry.contentType)
    return body
  }
}
