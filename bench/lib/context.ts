import type pg from 'pg'
import type { Redis } from 'ioredis'
import type { InProcessApp } from './app.ts'
import type { BenchEnv } from './env.ts'
import type { Child } from './processes.ts'
import type { Row } from './report.ts'

/**
 * Sizes of a run. `--quick` shrinks durations and counts for a smoke run
 * while developing; the published figures come from a full run.
 */
export function sizesFor(quick: boolean) {
  return {
    connections: 50,
    readSeconds: quick ? 3 : 10,
    readProducts: 1000,
    writeSeconds: quick ? 3 : 10,
    pipelineRate: 200,
    pipelineSeconds: quick ? 5 : 30,
    /**
     * The same load before a webhooks steady phase is measured: a freshly
     * started worker's connections and every backend's catalog caches warm
     * up in its first seconds (there, the p99 of the first 3 s was twice
     * the rest's), and a rate target is about the steady state.
     */
    warmUpSeconds: quick ? 1 : 5,
    pipelineTenants: 20,
    pipelineProducts: 50,
    saturationOrders: quick ? 1000 : 4000,
    fairnessFlood: quick ? 2000 : 10_000,
    provisionCount: quick ? 20 : 200,
    registerCount: quick ? 10 : 200,
    migrateSizes: quick ? [200, 1000] : [1000, 10_000],
    scaleTenants: quick ? [10, 1000] : [10, 10_000],
    /** a full page of 20 per tenant; more only slows down seeding 10,000 tenants */
    scaleProducts: 20,
    queueEmptyJobs: quick ? 5000 : 20_000,
    queueTransactionJobs: quick ? 2000 : 6000,
    /** how long a backlog of orders may take to drain between scenarios */
    settleSeconds: quick ? 60 : 180,
  }
}

export type Sizes = ReturnType<typeof sizesFor>

export type FloorName = 'read' | 'queue'

export interface FloorResults {
  read?: { rps: number; p50: number | null; p99: number | null }
  queueEmpty?: { rate: number }
  queueTransaction?: { rate: number }
  ddl?: { p50: number; p99: number }
  /** why a floor could not be measured */
  errors: Partial<Record<FloorName, string>>
}

export interface BenchContext {
  env: BenchEnv
  quick: boolean
  sizes: Sizes
  app: InProcessApp
  /** a small pool on the bench database, for seeding and reading results */
  pool: pg.Pool
  pgOptions: pg.ClientConfig
  redis: Redis
  passwordHash: string
  /** the built API, when it started */
  api?: { url: string; child: Child }
  /** null when `queue:work` is not available; the reason is in workerMissing */
  worker: {
    available: boolean
    reason?: string
    start: () => Promise<void>
    stop: () => Promise<void>
    readonly running: boolean
  }
  /** ace commands of the build (names) */
  commands: Set<string>
  commandFlags: Map<string, string[]>
  floors: FloorResults
  log: (line: string) => void
}

export interface Scenario {
  name: string
  /** what the scenario needs started before it runs */
  needs: { api?: boolean; worker?: boolean; floors?: FloorName[] }
  run: (ctx: BenchContext) => Promise<Row[]>
}
