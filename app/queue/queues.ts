import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq'
import { Cluster, type Redis, type RedisOptions } from 'ioredis'
import { clusterNodes, createRedis, redisOptions } from '#config/redis_options'
import queueConfig from '#config/queue'
import { closeAtShutdown } from '#queue/shutdown'

/**
 * The queue machinery knows jobs only by name and queue: which jobs exist,
 * what they do and what the sweeper scans for them is the registry's
 * (app/jobs/main.ts), which the worker, the sweeper and the commands are
 * given. The outbox stores the job name and the id of the row the job
 * works on (`ref_id`).
 */
export type JobName = string
export type QueueName = string

/**
 * What a producer needs to know of a job: its name and its queue.
 */
export interface JobRef {
  name: JobName
  queue: QueueName
}

/**
 * Every job's data names its tenant and the row it works on.
 */
export interface JobData {
  tenantId: number
  refId: number
}

/**
 * One job per order (or adjustment) and kind, ever: publishing the same
 * work twice (relay and sweeper, or a replay) adds nothing while the first
 * job is kept. BullMQ accepts ":" in a custom id only as exactly three
 * parts, which this is.
 */
export function jobId(job: JobName, tenantId: number, refId: number): string {
  return `${job}:${tenantId}:${refId}`
}

/**
 * The prefix of every queue key (and of the fairness counters and the
 * sweeper lock). On a Redis Cluster every key a BullMQ script touches must
 * hash to one slot, so the prefix is wrapped in a hash tag (`{commerce}`)
 * unless it already carries one.
 */
export function queuePrefix(): string {
  const prefix = queueConfig.prefix
  if (!queueOnCluster() || /\{[^{}]+\}/.test(prefix)) return prefix
  return `{${prefix}}`
}

/**
 * Transient failures (database or Redis unavailable, deadlock, lock
 * timeout) are retried with exponential backoff: 1 s, 2 s, 4 s … about
 * 17 minutes in all. Permanent ones throw UnrecoverableError and fail at
 * once. Failed jobs are kept for `queue:failed` / `queue:retry`; completed
 * ones for an hour (throughput in `queue:status`).
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: false,
}

/**
 * Connection settings of the queue. Tests point the queue at a private
 * (standalone) Redis with `configureQueueConnection`.
 */
let connectionOverrides: RedisOptions = {}

/**
 * Whether the queue runs on a Redis Cluster: `REDIS_CLUSTER_NODES` is set
 * and no test has pointed the queue at a standalone Redis.
 */
export function queueOnCluster(): boolean {
  return connectionOverrides.port === undefined && clusterNodes() !== null
}

/**
 * The connection BullMQ gets: plain options on one Redis (BullMQ opens and
 * closes its connections itself), or a Cluster client, which BullMQ takes
 * only as an instance; its owner closes it with `closeConnection`.
 */
export function queueConnection(overrides: RedisOptions = {}): ConnectionOptions {
  const merged = { ...connectionOverrides, ...overrides }
  if (!queueOnCluster()) return redisOptions(merged) as ConnectionOptions
  const client = createRedis(merged)
  client.on('error', () => {})
  return client
}

export async function closeConnection(connection: ConnectionOptions): Promise<void> {
  if (!(connection instanceof Cluster)) return
  await connection.quit().then(
    () => {},
    () => connection.disconnect()
  )
}

/**
 * The producers of this process, created on first use.
 */
const producers = new Map<QueueName, { producer: Queue; connection: ConnectionOptions }>()
let commandClient: Redis | Cluster | undefined

export function queue(name: QueueName): Queue {
  let existing = producers.get(name)?.producer
  if (!existing) {
    const connection = queueConnection()
    existing = new Queue(name, {
      connection,
      prefix: queuePrefix(),
      defaultJobOptions: JOB_OPTIONS,
    })
    // Errors surface on the calls that fail; an idle producer's reconnect
    // errors must not crash the process.
    existing.on('error', () => {})
    producers.set(name, { producer: existing, connection })
  }
  return existing
}

export function queueForJob(job: JobRef): Queue {
  return queue(job.queue)
}

/**
 * A plain client on the queue's Redis (a Cluster client on a cluster), for
 * the fairness counters and the sweeper's lock.
 */
export function queueRedis(): Redis | Cluster {
  if (!commandClient) {
    commandClient = createRedis({ ...connectionOverrides }, !queueOnCluster())
    commandClient.on('error', () => {})
  }
  return commandClient
}

/**
 * Closes every producer connection of this process (API shutdown, end of a
 * command, tests switching Redis).
 */
export async function closeQueues(): Promise<void> {
  const closing = [...producers.values()].map(({ producer, connection }) =>
    producer
      .close()
      .catch(() => {})
      .then(() => closeConnection(connection))
  )
  producers.clear()
  if (commandClient) {
    const client = commandClient
    commandClient = undefined
    closing.push(
      client.quit().then(
        () => {},
        () => client.disconnect()
      )
    )
  }
  await Promise.all(closing)
}

closeAtShutdown(closeQueues)

/**
 * Points this process's queue connections at another, standalone Redis
 * (tests); `{}` goes back to the configured one.
 */
export async function configureQueueConnection(overrides: RedisOptions): Promise<void> {
  await closeQueues()
  connectionOverrides = overrides
}

/**
 * What a handler that did more than its own work reports: its outcome, and
 * the other work of the same job and tenant it did in the same transaction
 * (their outbox rows deleted with its own). The worker then finishes their
 * jobs too: removed from the queue if they have not started, counted and
 * logged with their outcome.
 */
export interface JobResult {
  outcome: string
  alsoDone?: { refId: number; outcome: string }[]
}

/**
 * A job handler: re-enters the job's tenant, does the work and marks its
 * outbox row done in the same transaction. It returns a short outcome
 * (logged, kept on the completed job), or a JobResult. `job` and `token`
 * let a handler postpone itself (BullMQ's moveToDelayed).
 */
export type JobHandler = (
  data: JobData,
  context: { job: import('bullmq').Job; token?: string }
) => Promise<string | JobResult>

/**
 * One job of the registry (app/jobs/main.ts): its name and queue, its
 * handler (imported lazily, so producers never load every handler), the
 * BullMQ options of its jobs, and the table whose `pending` rows without an
 * outbox row the sweeper must publish again.
 */
/**
 * A job as producers and the sweeper know it (app/queue/jobs.ts): its name,
 * queue, BullMQ options and the table whose `pending` rows the sweeper scans.
 */
export interface JobSpec extends JobRef {
  options?: JobsOptions
  pendingTable?: string
}

/**
 * A job as the worker runs it: its spec and its handler (app/jobs/main.ts).
 */
export interface JobDefinition extends JobSpec {
  handler: () => Promise<JobHandler>
}

/**
 * How a queue's worker runs: its share of WORKER_CONCURRENCY (or a fixed
 * concurrency), and BullMQ worker settings (a custom backoff strategy).
 */
export interface QueueDefinition {
  concurrency: (workerConcurrency: number) => number
  /**
   * A lower concurrency while the queue keeps up; `concurrency` is then
   * the ceiling, taken while a backlog waits (app/queue/adaptive_concurrency.ts).
   */
  steadyConcurrency?: () => number
  settings?: import('bullmq').AdvancedOptions
}

export interface JobRegistry {
  jobs: Record<JobName, JobDefinition>
  queues: Record<QueueName, QueueDefinition>
  /** Told of every run: its queue, job, outcome and duration (the worker's metrics). */
  observe?: (queue: QueueName, job: JobName, outcome: string, seconds: number) => void
}
