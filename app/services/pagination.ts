import type { DatabaseQueryBuilderContract } from '@adonisjs/lucid/types/querybuilder'

export interface PageRequest {
  page?: number
  per_page?: number
}

/**
 * A page of rows and the contract's pagination `meta`. Controllers answer
 * `{data, meta}` with the rows transformed.
 */
export interface Page<Row> {
  data: Row[]
  meta: { total: number; per_page: number; current_page: number; last_page: number }
}

export const DEFAULT_PER_PAGE = 20

/**
 * Runs a paginated query in one round trip: each row of the page carries
 * the total, computed by an uncorrelated scalar subquery (evaluated once;
 * unlike `count(*) over ()` it lets PostgreSQL stop reading at the page's
 * LIMIT). Only a page past the end, which has no row to carry it, costs a
 * second count query.
 *
 * The query must have its columns selected and its ordering set (with a
 * unique tiebreaker such as the id, so pages never overlap). Rows carry the
 * extra `__total` column: transformers pick the fields they answer.
 */
export async function paginate<Row extends Record<string, any>>(
  query: DatabaseQueryBuilderContract<any>,
  request: PageRequest
): Promise<Page<Row>> {
  const page = request.page ?? 1
  const perPage = request.per_page ?? DEFAULT_PER_PAGE

  const rows: (Row & { __total?: number })[] = await query
    .clone()
    .select(countOf(query).as('__total'))
    .offset((page - 1) * perPage)
    .limit(perPage)

  let total = rows[0]?.__total
  if (total === undefined && page > 1) {
    const counted = await countOf(query).first()
    total = Number(counted.count)
  }
  return pageOfRows(rows, total ?? 0, page, perPage)
}

function pageOfRows<Row>(rows: Row[], total: number, page: number, perPage: number): Page<Row> {
  return {
    data: rows,
    meta: {
      total,
      per_page: perPage,
      current_page: page,
      last_page: Math.max(1, Math.ceil(total / perPage)),
    },
  }
}

/**
 * A page query as one statement of literal SQL, for a read that rides in a
 * simple-protocol message (admittedReadInOneRoundTrip): the same shape as
 * `paginate` (the total carried by each row through an uncorrelated
 * scalar subquery). Takes no bind parameters, so every part is checked
 * here: `table` and the columns are plain identifiers (always quoted),
 * `where` is SQL its caller built from validated literals only, the
 * ordering names a column with its direction, and page and size are
 * validated integers.
 */
export interface LiteralPageQuery {
  table: string
  columns: readonly string[]
  where: string | null
  order: readonly { column: string; direction: 'asc' | 'desc' }[]
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`Invalid identifier: ${name}`)
  return `"${name}"`
}

function pageNumbers(request: PageRequest) {
  const page = request.page ?? 1
  const perPage = request.per_page ?? DEFAULT_PER_PAGE
  for (const value of [page, perPage]) {
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError('Invalid page')
  }
  return { page, perPage }
}

export function literalPageSql(query: LiteralPageQuery, request: PageRequest): string {
  const { page, perPage } = pageNumbers(request)
  const table = identifier(query.table)
  const where = query.where ? ` where ${query.where}` : ''
  const order = query.order
    .map(({ column, direction }) => {
      if (direction !== 'asc' && direction !== 'desc') throw new TypeError('Invalid direction')
      return `${identifier(column)} ${direction}`
    })
    .join(', ')
  return `select ${query.columns.map(identifier).join(', ')},
      (select count(*) from ${table}${where}) as __total
    from ${table}${where} order by ${order}
    limit ${perPage} offset ${(page - 1) * perPage}`
}

/**
 * The page of `literalPageSql`'s rows, or null for a page past the end
 * (no row carries the total: the caller counts another way).
 */
export function literalPage<Row extends Record<string, any>>(
  rows: (Row & { __total?: number | string })[],
  request: PageRequest
): Page<Row> | null {
  const { page, perPage } = pageNumbers(request)
  if (rows.length === 0 && page > 1) return null
  const total = rows.length === 0 ? 0 : Number(rows[0].__total)
  return pageOfRows(rows, total, page, perPage)
}

function countOf(query: DatabaseQueryBuilderContract<any>) {
  return query.clone().clearSelect().clearOrder().count('*')
}
