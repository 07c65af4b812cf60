import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { Redis } from 'ioredis'
import env from '#start/env'
import { freePort } from '#tests/support/processes'

/**
 * The citus suite runs the real application (API server, worker, ace
 * commands) as child processes against a Citus coordinator given by
 * CITUS_URL, while this process inspects the cluster with plain pg
 * clients. The primary connection of the test process stays on the
 * ordinary test database, so the suite can run next to the others.
 */
const APP_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export const CITUS_SKIP_MESSAGE =
  'CITUS_URL is not set: the citus suite needs a Citus coordinator with its workers ' +
  '(e.g. CITUS_URL=postgres://postgres@127.0.0.1:9700/commerce; see docs/deploy/citus.md)'

export function citusUrl(): string | undefined {
  return env.get('CITUS_URL') || undefined
}

export interface Node {
  host: string
  port: number
}

export interface CitusCluster {
  /** The test database (`<database of CITUS_URL>_test`), on every node. */
  database: string
  /** The runtime role the application's pool logs in as. */
  runtimeUser: string
  /** A client on the coordinator's test database as the runtime role. */
  connectAsRuntime(): Promise<pg.Client>
  coordinator: Node
  workers: Node[]
  /** Environment of the application's child processes. */
  env: Record<string, string>
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>
  /** A query on one worker's copy of the test database, shards visible. */
  queryWorker<T = any>(worker: Node, sql: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

function connectionOf(url: URL) {
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
  }
}

async function withClient<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client(config)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/**
 * A fresh test database on the coordinator and on every worker of the
 * cluster (dropped and created again, so each run starts clean), with the
 * citus extension, schema-based sharding switched on for it, and the
 * workers registered. The workers are those of the CITUS_URL database.
 */
export async function prepareCitusCluster(): Promise<CitusCluster> {
  const url = new URL(citusUrl()!)
  const base = connectionOf(url)
  const database = `${base.database}_test`
  const coordinator = { host: base.host, port: base.port }

  const workers = await withClient(base, async (client) => {
    const { rows } = await client.query(
      `select nodename as host, nodeport as port from pg_dist_node
       where groupid <> 0 and noderole = 'primary' and isactive order by nodeid`
    )
    return rows as Node[]
  })
  if (workers.length < 2) {
    throw new Error(`The Citus cluster at ${url.host} needs two workers, it has ${workers.length}`)
  }

  // The runtime role of the child processes (derived from their test
  // database, as in config/database.ts): a role is per node, so a run
  // drops the one an earlier run may have left on each node, and
  // ensureRuntimeRole (tenants:migrate) creates it again through Citus,
  // which propagates it to the workers.
  const runtimeUser = `${database}_runtime`
  await dropEverywhere([coordinator, ...workers], base, database, runtimeUser)
  for (const node of [coordinator, ...workers]) {
    await withClient({ ...base, ...node }, async (client) => {
      await client.query(`create database "${database}"`)
    })
    await withClient({ ...base, ...node, database }, (client) =>
      client.query('create extension citus')
    )
  }
  await withClient({ ...base, database }, async (client) => {
    await client.query(`alter database "${database}" set citus.enable_schema_based_sharding = on`)
    await client.query('select citus_set_coordinator_host($1, $2)', [
      coordinator.host,
      coordinator.port,
    ])
    for (const worker of workers) {
      await client.query('select citus_add_node($1, $2)', [worker.host, worker.port])
    }
  })

  const pool = new pg.Pool({ ...base, database, max: 4 })
  const queuePrefix = `${env.get('QUEUE_PREFIX') ?? 'commerce-test'}-citus`
  await clearQueues(queuePrefix)
  const childEnv: Record<string, string> = {
    DB_HOST: base.host,
    DB_PORT: String(base.port),
    DB_MIGRATION_HOST: base.host,
    DB_MIGRATION_PORT: String(base.port),
    DB_USER: base.user,
    DB_PASSWORD: base.password,
    DB_DATABASE: base.database,
    QUEUE_PREFIX: queuePrefix,
  }
  return {
    database,
    coordinator,
    workers,
    env: childEnv,
    async query(sql, params) {
      const { rows } = await pool.query(sql, params as unknown[])
      return rows
    },
    queryWorker(worker, sql, params) {
      return withClient({ ...base, ...worker, database }, async (client) => {
        // Shards are hidden from catalog queries unless asked for.
        await client.query('set citus.override_table_visibility = off')
        const { rows } = await client.query(sql, params as unknown[])
        return rows
      })
    },
    runtimeUser,
    async connectAsRuntime() {
      const client = new pg.Client({ ...base, database, user: runtimeUser })
      await client.connect()
      return client
    },
    async close() {
      await pool.end()
      await dropEverywhere([coordinator, ...workers], base, database, runtimeUser)
    },
  }
}

/**
 * Drops the test database and the runtime role on every node (coordinator
 * first), so a run leaves no role behind on the cluster.
 */
async function dropEverywhere(
  nodes: Node[],
  base: pg.ClientConfig,
  database: string,
  role: string
) {
  for (const node of nodes) {
    await withClient({ ...base, ...node }, async (client) => {
      await client.query(`drop database if exists "${database}" with (force)`)
      await client.query(`drop role if exists "${role}"`)
    })
  }
}

export interface ApiProcess {
  baseUrl: string
  output: () => string
  stop(): Promise<void>
}

/**
 * Starts the HTTP server (bin/server.ts) in the test environment with
 * `childEnv`, and resolves once /health/live answers.
 */
export async function spawnApi(childEnv: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import=@poppinss/ts-exec', 'bin/server.ts'],
    {
      cwd: APP_ROOT,
      env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', ...childEnv, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  )
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`API server did not start:\n${output}`)
    }
    try {
      const response = await fetch(`${baseUrl}/health/live`)
      if (response.ok) break
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    baseUrl,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * Deletes the suite's queue keys (its own prefix, in this run's Redis DB):
 * the database starts again at tenant 1, and a finished job of an earlier
 * run with the same id would make BullMQ drop the new one.
 */
async function clearQueues(prefix: string) {
  const redis = new Redis({
    host: env.get('REDIS_HOST'),
    port: env.get('REDIS_PORT'),
    password: env.get('REDIS_PASSWORD'),
    db: env.get('REDIS_DB', 0),
  })
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
