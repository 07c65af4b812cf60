import { AsyncLocalStorage } from 'node:async_hooks'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { transactionLimits } from '#config/database'
import { tenantSearchPath } from '#tenancy/schema'
import { beginWithEntry, runInOneRoundTrip } from '#tenancy/tenant_transaction'
import { poolOf, type SliceLease } from '#tenancy/pool_slices'
import { MissingTenantContextException, TenantNotFoundException } from '#exceptions/tenancy'

/**
 * The tenant a piece of code runs for, and the one transaction every
 * tenant-scoped query of that request or job goes through.
 */
export interface TenantScope {
  tenantId: number
  trx: TransactionClientContract
}

/**
 * A statement another area adds to the entry round trip (auth adds its
 * admission of the user and login session: app/auth/admission.ts). It runs
 * after the tenant is entered, so row-level security already limits it to
 * the tenant; it takes no bind parameters (the entry is one
 * simple-protocol message), so its author builds it from validated values
 * only. `read` turns its first row into what `check` gets.
 */
export interface EntryFragment<A> {
  sql: string
  read(row: Record<string, any> | undefined): A
}

/**
 * What the entry round trip found: the tenant's status and the fragment's
 * answer.
 */
export interface TenantEntry<A = undefined> {
  status: 'active' | 'suspended'
  admission: A
}

/**
 * Statement and lock-wait limits of one transaction.
 */
export interface TransactionLimits {
  statementTimeoutMs: number
  lockTimeoutMs: number
}

export interface WithTenantOptions<T, A> {
  /** Statements of another area run in the entry round trip. */
  admission?: EntryFragment<A>
  /** Sees the entry (null for an unknown tenant) before `fn` runs; may throw. */
  check?: (entry: TenantEntry<A> | null) => void
  /**
   * 'request' (default: `DB_STATEMENT_TIMEOUT_MS`, `DB_LOCK_TIMEOUT_MS`),
   * 'job' (`JOB_STATEMENT_TIMEOUT_MS`, `JOB_LOCK_TIMEOUT_MS`) or explicit
   * limits.
   */
  limits?: 'request' | 'job' | TransactionLimits
  /**
   * Decides, once `fn` resolved, whether to commit (default) or roll back
   * and still return its result: a request whose handler answered an error
   * (the framework renders what a controller throws and lets the
   * middleware chain resolve) keeps nothing.
   */
  shouldCommit?: (result: T) => boolean
  /**
   * The lane of the runtime pool the transaction runs on (a kind of work
   * with connections of its own, app/tenancy/pool_slices.ts); default:
   * the tenant's slice, or another tenant slice's free connection.
   */
  lane?: string
}

const storage = new AsyncLocalStorage<TenantScope>()

/**
 * The current tenant scope. Throws when there is none: code that touches
 * tenant tables outside `withTenant` fails loudly instead of falling back
 * to public or to another tenant.
 */
export function currentTenant(): TenantScope {
  const scope = storage.getStore()
  if (!scope || scope.trx.isCompleted) {
    throw new MissingTenantContextException()
  }
  return scope
}

/**
 * Shorthand for a query builder on a tenant table in the current scope.
 */
export function tenantQuery(table: string) {
  return currentTenant().trx.from(table)
}

function milliseconds(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`Invalid timeout: ${String(value)}`)
  }
  return String(value)
}

/**
 * The tenant entry: `tenancy.enter` (the only door into a tenant's rows,
 * accepted from the first statement of a transaction only, see
 * docs/design/isolation.md), the limits and the search_path, all
 * transaction-local.
 */
export function enterSql(tenantId: number, limits: TransactionLimits): string {
  const searchPath = tenantSearchPath(tenantId)
  return `select tenancy.enter(${tenantId}) as status,
    set_config('statement_timeout', '${milliseconds(limits.statementTimeoutMs)}', true) as statement_timeout,
    set_config('lock_timeout', '${milliseconds(limits.lockTimeoutMs)}', true) as lock_timeout,
    set_config('search_path', '${searchPath}', true) as search_path`
}

/**
 * Runs `fn` inside one transaction on the runtime role's shared pool,
 * entered for the tenant: PostgreSQL then lets it reach that tenant's
 * schema and platform rows only, and the tenant's schema is first on the
 * search_path. Everything the entry sets is transaction-local: it ends
 * with the transaction, so the pooled connection goes back with no tenant.
 * Commits when `fn` resolves (unless `shouldCommit` says otherwise), rolls
 * back when it throws; after-commit hooks run only after a real commit.
 *
 * Entering costs no round trip of its own: the entry (and the admission
 * fragment) ride with BEGIN. `check` sees the entry before `fn` runs and
 * may throw; an unknown tenant always fails.
 *
 * The connection is one of the tenant's home slice of the pool when one is
 * free, else borrowed from another slice (app/tenancy/pool_slices.ts): the
 * slice decides only which backends serve the tenant, never what the
 * transaction may reach.
 */
export async function withTenant<T, A = undefined>(
  tenantId: number,
  fn: (trx: TransactionClientContract) => Promise<T>,
  options: WithTenantOptions<T, A> = {}
): Promise<T> {
  const limits =
    typeof options.limits === 'object'
      ? options.limits
      : transactionLimits[options.limits ?? 'request']
  const statements = [enterSql(tenantId, limits)]
  if (options.admission) statements.push(options.admission.sql)
  const lease = await poolOf(options.lane).acquire(tenantId)
  try {
    return await inTenantTransaction(tenantId, statements, lease.connection, fn, options)
  } finally {
    lease.release()
  }
}

async function inTenantTransaction<T, A>(
  tenantId: number,
  statements: string[],
  connection: string,
  fn: (trx: TransactionClientContract) => Promise<T>,
  options: WithTenantOptions<T, A>
): Promise<T> {
  const { trx, results } = await beginWithEntry(statements, connection, tenantId)
  try {
    const entry = entryOf(results[0][0], results[1]?.[0], options.admission)
    options.check?.(entry)
    if (!entry) {
      throw new TenantNotFoundException(tenantId)
    }
    const result = await storage.run({ tenantId, trx }, () => fn(trx))
    if (options.shouldCommit && !options.shouldCommit(result)) {
      await trx.rollback()
    } else {
      await trx.commit()
    }
    return result
  } catch (error) {
    if (!trx.isCompleted) await trx.rollback()
    throw error
  }
}

/**
 * A tenant transaction of one round trip: the entry, `statements` and
 * COMMIT in one message (see runInOneRoundTrip), for short work that needs
 * nothing in between: a read, or a write of validated integers. The
 * statements take no bind parameters, so their author builds them from
 * validated values only (as for an entry fragment). Returns the rows of
 * each statement; an unknown tenant fails as in `withTenant` (its
 * statements reached no tenant's rows: row-level security saw no tenant).
 * Runs on a connection of the tenant's slice (or of `lane`), as
 * `withTenant` does, or on the caller's `lease`.
 */
export async function inTenantOneRoundTrip(
  tenantId: number,
  statements: string[],
  {
    limits = 'request',
    lane,
    lease,
  }: Pick<WithTenantOptions<unknown, unknown>, 'limits' | 'lane'> & {
    /** A lease the caller took (of `poolOf(lane)`) and releases itself. */
    lease?: SliceLease
  } = {}
): Promise<Record<string, any>[][]> {
  const chosen = typeof limits === 'object' ? limits : transactionLimits[limits]
  const all = [enterSql(tenantId, chosen), ...statements]
  const [entered, ...results] = lease
    ? await runInOneRoundTrip(all, lease.connection, tenantId)
    : await roundTripOnSlice(tenantId, all, lane)
  if (!entryOf(entered[0])) throw new TenantNotFoundException(tenantId)
  return results
}

/**
 * What the entry round trip found (its row, and the admission fragment's
 * row read by the fragment), or null for a tenant that is unknown, or
 * neither active nor suspended.
 */
function entryOf<A>(
  entered: Record<string, any> | undefined,
  admitted?: Record<string, any>,
  admission?: EntryFragment<A>
): TenantEntry<A> | null {
  const status = entered?.status
  if (status !== 'active' && status !== 'suspended') return null
  return { status, admission: admission?.read(admitted) as A }
}

/**
 * `statements` (the entry first) with BEGIN and COMMIT in one message, on
 * a connection of the tenant's slice (or of `lane`).
 */
async function roundTripOnSlice(
  tenantId: number,
  statements: string[],
  lane?: string
): Promise<Record<string, any>[][]> {
  const lease = await poolOf(lane).acquire(tenantId)
  try {
    return await runInOneRoundTrip(statements, lease.connection, tenantId)
  } finally {
    lease.release()
  }
}

export interface AdmittedRoundTripOptions<A> {
  /** The admission fragment, run right after the entry (as in `withTenant`). */
  admission: EntryFragment<A>
  /** Sees the entry (null for an unknown tenant) before any result is used; may throw. */
  check: (entry: TenantEntry<A> | null) => void
}

/**
 * A read of one round trip for a request: `BEGIN; <entry>; <admission>;
 * <statements>; COMMIT` in one simple-protocol message, the whole
 * transaction of `withTenant` (entry, admission fragment, `check`) with
 * the request's reads riding in the same message instead of costing two
 * more round trips (the read, COMMIT).
 *
 * `statements` run before the application has seen the admission, so they
 * must be reads: if `check` refuses (revoked session, deactivated user,
 * suspended or unknown tenant) their rows are dropped unseen, and they
 * changed nothing. They run inside the entered transaction (the guard and
 * row-level security limit them to the tenant, the entry's statement and
 * lock timeouts apply) and take no bind parameters: their author builds
 * them from validated values only. An unknown tenant fails `check` (a null
 * entry) or, if `check` lets it through, as in `withTenant`; when a
 * statement fails PostgreSQL skips the rest, COMMIT included, and the
 * transaction is rolled back (runInOneRoundTrip), so the caller sees the
 * database error and no entry.
 */
export async function admittedReadInOneRoundTrip<A>(
  tenantId: number,
  statements: string[],
  options: AdmittedRoundTripOptions<A>
): Promise<Record<string, any>[][]> {
  const [entered, admitted, ...reads] = await roundTripOnSlice(tenantId, [
    enterSql(tenantId, transactionLimits.request),
    options.admission.sql,
    ...statements,
  ])
  const entry = entryOf(entered[0], admitted[0], options.admission)
  options.check(entry)
  if (!entry) throw new TenantNotFoundException(tenantId)
  return reads
}
