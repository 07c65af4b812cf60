import pg from 'pg'
import type { BenchEnv } from './env.ts'
import { runToEnd } from './processes.ts'

pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))

export function connectionOptions(env: BenchEnv, database = env.database): pg.ClientConfig {
  return {
    host: env.common.DB_HOST,
    port: Number(env.common.DB_PORT),
    user: env.common.DB_USER,
    password: env.common.DB_PASSWORD || undefined,
    database,
    application_name: 'bench-harness',
  }
}

export async function withClient<T>(
  options: pg.ClientConfig,
  fn: (client: pg.Client) => Promise<T>
): Promise<T> {
  const client = new pg.Client(options)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function quoteDb(name: string) {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`Refusing database name ${name}`)
  return `"${name}"`
}

/**
 * The runtime role the application derives for a database (config/database.ts:
 * `<database>_runtime` when DB_RUNTIME_USER is not set, as in the bench's
 * children). Dropped with its database, so a bench run leaves no role behind.
 */
export function runtimeRoleOf(database: string) {
  return `"${database}_runtime"`
}

/**
 * Drops and creates a scratch database. Only names ending in `_bench` or
 * `_bench_<word>` are accepted, so the harness never drops anything else.
 */
export async function recreateDatabase(env: BenchEnv, database: string) {
  if (!/_bench(_[a-z]+)?$/.test(database)) {
    throw new Error(`Refusing to recreate ${database}: not a bench database`)
  }
  await withClient(connectionOptions(env, 'postgres'), async (client) => {
    await client.query(`drop database if exists ${quoteDb(database)} with (force)`)
    await client.query(`drop role if exists ${runtimeRoleOf(database)}`)
    await client.query(`create database ${quoteDb(database)}`)
  })
}

export async function dropDatabase(env: BenchEnv, database: string) {
  if (!/_bench(_[a-z]+)?$/.test(database)) return
  await withClient(connectionOptions(env, 'postgres'), async (client) => {
    await client.query(`drop database if exists ${quoteDb(database)} with (force)`)
    await client.query(`drop role if exists ${runtimeRoleOf(database)}`)
  })
}

/**
 * Applies the platform migrations with the built application, like a
 * deployment would (`npm run migrate`: `migration:run --force
 * --connection=migrations`, then `tenants:migrate`, which creates the
 * runtime role and its grants).
 */
export async function migratePlatform(env: BenchEnv, database = env.database) {
  for (const args of [
    ['build/ace.js', 'migration:run', '--force', '--connection=migrations'],
    ['build/ace.js', 'tenants:migrate'],
  ]) {
    const result = await runToEnd(process.execPath, args, {
      env: { ...env.common, DB_DATABASE: database },
      timeoutMs: 120_000,
    })
    if (result.code !== 0) {
      throw new Error(`platform migrations failed:\n${result.output.slice(-3000)}`)
    }
  }
}

/**
 * Runs `task` for every item over `connections` dedicated connections, each
 * taking the next item as soon as it is free. Returns the elapsed time.
 */
export async function parallelSql<T>(
  options: pg.ClientConfig,
  items: T[],
  connections: number,
  task: (client: pg.Client, item: T) => Promise<void>,
  { seeding = false }: { seeding?: boolean } = {}
): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: Math.max(1, Math.min(connections, items.length)) }, async () => {
      const client = new pg.Client(options)
      await client.connect()
      // Seeding only (never a measured run): no WAL flush wait per commit.
      if (seeding) await client.query('set synchronous_commit = off')
      return client
    })
  )
  let next = 0
  const started = performance.now()
  try {
    await Promise.all(
      clients.map(async (client) => {
        while (next < items.length) {
          const item = items[next++]
          await task(client, item)
        }
      })
    )
    return performance.now() - started
  } finally {
    await Promise.all(clients.map((client) => client.end()))
  }
}
