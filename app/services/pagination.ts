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
  total ??= 0

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

function countOf(query: DatabaseQueryBuilderContract<any>) {
  return query.clone().clearSelect().clearOrder().count('*')
}
