/**
 * Database ids (tenants, users, orders, products, …): positive integers
 * below 2^53, so a BIGINT read by JavaScript is always exact. The one place
 * that says what an id looks like.
 */
export const ID_PATTERN = /^[1-9][0-9]{0,15}$/

/**
 * Returns the id when the value is a positive safe integer (a number or a
 * canonical numeric string), else null.
 */
export function parseId(value: unknown): number | null {
  const id = typeof value === 'string' && ID_PATTERN.test(value) ? Number(value) : value
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null
}

/**
 * Matcher of an id route parameter (`:id`, `:adjustment_id`): at most 15
 * digits, which are always below 2^53, so the cast never loses precision.
 * Anything else is an unknown route (404), never a database error.
 */
export const ID_ROUTE_PARAM = {
  match: /^[1-9][0-9]{0,14}$/,
  cast: (value: string) => Number(value),
}
