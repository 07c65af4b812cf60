import env from '#start/env'

/**
 * Prometheus metrics (GET /metrics on the API, /metrics on
 * WORKER_METRICS_PORT for a worker). With METRICS_TOKEN set, a scrape must
 * send `Authorization: Bearer <METRICS_TOKEN>`. A worker serves its
 * metrics only when WORKER_METRICS_PORT is set (`0`: any free port, logged
 * at start).
 */
const metricsConfig = {
  token: env.get('METRICS_TOKEN')?.release() || undefined,
  workerPort: env.get('WORKER_METRICS_PORT'),
  host: env.get('HOST'),
}

export default metricsConfig
