/*
|--------------------------------------------------------------------------
| Health checks
|--------------------------------------------------------------------------
|
| What GET /health/ready asks, through Adonis' HealthChecks: PostgreSQL
| (DbCheck on the shared pool) and Redis (RedisCheck on the app's
| connection), in parallel, each within READY_TIMEOUT_MS.
|
| The report names each check and its state only. Why a check failed
| (driver messages, host names, ports) goes to the log, never to the
| response: readiness is served without authentication.
|
*/

import logger from '@adonisjs/core/services/logger'
import { HealthChecks, Result } from '@adonisjs/core/health'
import type { HealthCheckContract, HealthCheckResult } from '@adonisjs/core/types/health'
import db from '@adonisjs/lucid/services/db'
import { DbCheck } from '@adonisjs/lucid/database'
import redis from '@adonisjs/redis/services/main'
import { RedisCheck } from '@adonisjs/redis'
import { withTimeout } from '#helpers/timeout'

export const READY_TIMEOUT_MS = 2_000

/**
 * A check under a short public name, with a time limit and its latency.
 */
class TimedCheck implements HealthCheckContract {
  constructor(
    readonly name: string,
    private check: HealthCheckContract
  ) {}

  async run(): Promise<HealthCheckResult> {
    const started = performance.now()
    const result: HealthCheckResult = await withTimeout(
      this.check.run(),
      READY_TIMEOUT_MS,
      this.name
    ).catch((error: Error) => Result.failed(error.message, error))
    return {
      ...result,
      meta: { ...result.meta, latencyMs: Math.round(performance.now() - started) },
    }
  }
}

export const healthChecks = new HealthChecks().register([
  new TimedCheck('database', new DbCheck(db.connection())),
  new TimedCheck('redis', new RedisCheck(redis.connection())),
])

export interface CheckReport {
  status: 'ok' | 'error'
  latency_ms: number
}

export interface ReadinessReport {
  status: 'ok' | 'error'
  checks: Record<string, CheckReport>
}

/**
 * Runs every check and answers the public report; failures are logged
 * with their reason.
 */
export async function readiness(): Promise<ReadinessReport> {
  const report = await healthChecks.run()
  const checks: Record<string, CheckReport> = {}
  for (const check of report.checks) {
    const status = check.status === 'error' ? 'error' : 'ok'
    checks[check.name] = { status, latency_ms: check.meta?.latencyMs ?? 0 }
    if (status === 'error') {
      logger.warn({ check: check.name, reason: check.message, err: check.meta?.error }, 'not ready')
    }
  }
  return { status: report.isHealthy ? 'ok' : 'error', checks }
}
