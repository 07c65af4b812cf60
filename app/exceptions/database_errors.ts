import db from '@adonisjs/lucid/services/db'

/**
 * Maps PostgreSQL errors to API errors by SQLSTATE and column, never by
 * constraint name (Citus appends shard ids to constraint names).
 */
export interface MappedError {
  status: number
  code: string
  message: string
  field?: string
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number
}

interface PgError {
  code?: string
  detail?: string
  column?: string
  schema?: string
  constraint?: string
}

const indexColumns = new Map<string, Promise<string | undefined>>()

/**
 * PostgreSQL leaves out the DETAIL of a unique violation (the key and its
 * value) when row-level security applies to the caller, as it does to the
 * runtime role on every tenant and platform table. The column is then read
 * from the violated index's definition (its last key, as for the detail),
 * once per index name per process: the same index name stands for the same
 * definition in every tenant schema. A name with a Citus shard suffix
 * (`_<digits>`) is looked up without it.
 */
export async function withUniqueViolationColumn(error: unknown): Promise<void> {
  const pg = error as PgError | undefined
  if (!pg || pg.code !== '23505' || pg.column || pg.detail || !pg.schema || !pg.constraint) return
  const key = `${pg.schema.startsWith('tenant_') ? 'tenant_*' : pg.schema}.${pg.constraint}`
  let column = indexColumns.get(key)
  if (!column) {
    column = lastIndexKey(pg.schema, pg.constraint).catch(() => undefined)
    indexColumns.set(key, column)
  }
  const found = await column
  if (found) pg.column = found
}

async function lastIndexKey(schema: string, index: string): Promise<string | undefined> {
  for (const name of [index, index.replace(/_[0-9]+$/, '')]) {
    const { rows } = await db.rawQuery(
      `select pg_get_indexdef(i.indexrelid, i.indnkeyatts, true) as key
       from pg_index i
       join pg_class c on c.oid = i.indexrelid
       join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ? and c.relname = ?`,
      [schema, name]
    )
    if (rows[0]) return columnFromDetail(`Key (${rows[0].key})=(`)
  }
  return undefined
}

/**
 * `Key (sku)=(A-1) already exists.` → "sku";
 * `Key (lower(email::text))=(x) already exists.` → "email";
 * `Key (customer_id, key)=(...)` → "key" (the last column is the one a
 * client chose).
 */
export function columnFromDetail(detail?: string): string | undefined {
  const key = detail?.match(/^Key \((.+?)\)=\(/)?.[1]
  if (!key) return undefined
  const columns = key
    .split(',')
    .map((part) => part.trim().match(/([a-z_][a-z0-9_]*)(?:::[a-z ]+)?\)*$/i)?.[1])
    .filter((name): name is string => !!name)
  return columns.at(-1)
}

const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/
/** query_canceled (statement_timeout), lock_not_available (lock_timeout), idle_in_transaction_session_timeout */
const TIMEOUT_SQLSTATES = new Set(['57014', '55P03', '25P03'])
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'])

export function mapDatabaseError(error: unknown): MappedError | null {
  if (!error || typeof error !== 'object') return null
  const pg = error as PgError & { name?: string; message?: string }

  if (pg.name === 'KnexTimeoutError') {
    return { status: 503, code: 'E_SERVICE_UNAVAILABLE', message: 'The database is unavailable' }
  }
  if (typeof pg.code !== 'string') return null

  if (UNAVAILABLE_ERRNO.has(pg.code) || UNAVAILABLE_SQLSTATE.test(pg.code)) {
    return { status: 503, code: 'E_SERVICE_UNAVAILABLE', message: 'The database is unavailable' }
  }

  // A statement or lock wait past its limit (statement_timeout,
  // lock_timeout, transaction-local in the tenant entry), or a transaction
  // left idle past idle_in_transaction_session_timeout: the request ends
  // at once, its transaction rolled back and its connection released.
  if (TIMEOUT_SQLSTATES.has(pg.code)) {
    return {
      status: 503,
      code: 'E_SERVICE_UNAVAILABLE',
      message: 'The request took too long in the database; retry later',
      retryAfter: 1,
    }
  }

  const field = pg.column ?? columnFromDetail(pg.detail)
  switch (pg.code) {
    case '23505':
      return {
        status: 409,
        code: 'E_CONFLICT',
        message: field ? `The ${field} is already taken` : 'The resource already exists',
        field,
      }
    case '23503':
      return {
        status: 409,
        code: 'E_CONFLICT',
        message: 'The resource is referenced by or refers to a missing resource',
        field,
      }
    case '23514':
      return {
        status: 409,
        code: 'E_CONFLICT',
        message: 'The change would break a rule of the resource',
        field,
      }
    case '40001':
    case '40P01':
      return {
        status: 503,
        code: 'E_SERVICE_UNAVAILABLE',
        message: 'A concurrent change got in the way; retry the request',
      }
    default:
      return null
  }
}
