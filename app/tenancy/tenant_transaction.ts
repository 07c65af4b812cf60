import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { servedTenant } from '#tenancy/connection_cap'

/**
 * Opens a transaction on the shared pool whose first round trip is
 * `BEGIN; <entry>; <admission>`: the tenant switch (and the admission query) ride in the
 * same simple-protocol message as BEGIN, instead of costing a round trip of
 * their own (about 15 % of a request's throughput here).
 *
 * Knex issues BEGIN itself, so this installs, once, a thin wrapper around
 * the pool's knex client `transaction()` that replaces BEGIN for the
 * transactions that ask for it (via the `tenantEntry` option passed through
 * Lucid's public `db.transaction(options)`). Everything else about the
 * transaction (COMMIT, ROLLBACK, release to the pool) stays knex's.
 *
 * A simple-protocol message takes no bind parameters: the entry SQL is
 * built only from validated integers and UUIDs (see context.ts).
 *
 * If the entry fails after BEGIN succeeded, the connection would hold an
 * aborted transaction; it is marked disposed so the pool destroys it
 * instead of handing it out again.
 */
interface EntryHolder {
  statements: string[]
  /** noted on the connection (app/tenancy/connection_cap.ts) */
  tenantId?: number
  results?: Record<string, any>[][]
}

interface KnexTransaction {
  begin(connection: unknown): Promise<unknown>
  trxClient: {
    query(
      connection: unknown,
      sql: string
    ): Promise<{ response: { rows: Record<string, any>[] }[] }>
  }
}

interface KnexClient {
  transaction(container: unknown, config: any, outerTx: unknown): KnexTransaction
  [installed]?: true
}

const installed = Symbol('tenantEntryInstalled')

function install(connectionName?: string) {
  const client = (
    db.connection(connectionName).getWriteClient() as unknown as { client: KnexClient }
  ).client
  if (client[installed]) return
  const create = client.transaction
  client.transaction = function (container, config, outerTx) {
    const transaction = create.call(this, container, config, outerTx)
    const entry: EntryHolder | undefined = config?.tenantEntry
    if (entry && !outerTx) {
      transaction.begin = async function (this: KnexTransaction, connection: any) {
        try {
          const sql = ['begin', ...entry.statements].join(';\n')
          const result = await this.trxClient.query(connection, sql)
          entry.results = result.response.slice(1).map((response) => response.rows)
          if (entry.tenantId !== undefined) servedTenant(connection, entry.tenantId)
          return result
        } catch (error) {
          // The transaction may be open and aborted on this connection:
          // never hand it out again.
          connection.__knex__disposed = error
          throw error
        }
      }
    }
    return transaction
  }
  client[installed] = true
}

/**
 * Begins a transaction with `statements` (no parameters) run in the same
 * round trip as BEGIN, and returns the rows of each. On the default
 * connection, or on `connection` (a slice of the runtime pool); `tenantId`
 * is counted against the connection's tenant cap.
 */
export async function beginWithEntry(
  statements: string[],
  connection?: string,
  tenantId?: number
): Promise<{ trx: TransactionClientContract; results: Record<string, any>[][] }> {
  install(connection)
  const entry: EntryHolder = { statements, tenantId }
  // Lucid's query client forwards its second argument to knex as options
  const client = db.connection(connection)
  const begin = client.transaction as unknown as (
    callback: undefined,
    options: { tenantEntry: EntryHolder }
  ) => Promise<TransactionClientContract>
  const trx = await begin.call(client, undefined, { tenantEntry: entry })
  return { trx, results: entry.results ?? [] }
}

interface PooledConnection {
  query(sql: string): Promise<{ rows: Record<string, any>[] }[] | { rows: Record<string, any>[] }>
  __knex__disposed?: unknown
}

/**
 * A whole transaction in one round trip: `BEGIN; <statements>; COMMIT` as
 * one simple-protocol message on a connection of the shared pool, for work
 * that needs nothing from the application between its statements (no bind
 * parameters: built from validated integers only, like the entry). Returns
 * the rows of each statement. When a statement fails, PostgreSQL skips the
 * rest of the message, COMMIT included: the transaction is rolled back
 * before the connection goes back to the pool (or the connection is
 * disposed if even that fails). `tenantId` is counted against the
 * connection's tenant cap.
 */
export async function runInOneRoundTrip(
  statements: string[],
  connectionName?: string,
  tenantId?: number
): Promise<Record<string, any>[][]> {
  const client = (
    db.connection(connectionName).getWriteClient() as unknown as {
      client: {
        acquireConnection(): Promise<PooledConnection>
        releaseConnection(connection: PooledConnection): Promise<void>
      }
    }
  ).client
  const connection = await client.acquireConnection()
  if (tenantId !== undefined) servedTenant(connection, tenantId)
  try {
    const answer = await connection.query(['begin', ...statements, 'commit'].join(';\n'))
    const results = Array.isArray(answer) ? answer : [answer]
    return results.slice(1, -1).map((result) => result.rows)
  } catch (error) {
    try {
      await connection.query('rollback')
    } catch {
      connection.__knex__disposed = error
    }
    throw error
  } finally {
    await client.releaseConnection(connection)
  }
}
