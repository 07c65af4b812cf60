/**
 * SQL scripts (several statements in one string) and how they are sent.
 *
 * A script is sent in as few round trips as the engines allow: statements
 * are joined into one simple-protocol query, except those Citus forwards
 * to its workers as the client's whole query string (CREATE INDEX, DROP
 * INDEX, REINDEX, ALTER INDEX). A worker refuses a multi-statement string
 * ("cannot insert multiple commands into a prepared statement"), so each
 * of those goes on its own, in the same transaction. On plain PostgreSQL a
 * script without such statements stays one round trip.
 */

/**
 * Single characters, or whole quoted strings, quoted identifiers, comments
 * and dollar-quoted bodies as one token (so their content is never read as
 * structure).
 */
const TOKEN =
  /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(\$[A-Za-z_]*\$)[\s\S]*?\1|[\s\S]/y

export function* sqlTokens(sql: string): Generator<string> {
  const pattern = new RegExp(TOKEN)
  let match: RegExpExecArray | null
  while ((match = pattern.exec(sql))) {
    yield match[0]
  }
}

/**
 * Splits a script into statements on top-level semicolons (outside
 * quotes, dollar quotes and comments).
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = []
  let current = ''
  for (const token of sqlTokens(sql)) {
    if (token === ';') {
      if (current.trim()) statements.push(current.trim())
      current = ''
    } else {
      current += token
    }
  }
  if (current.trim()) statements.push(current.trim())
  return statements
}

const FORWARDED_VERBATIM = /^(create\s+(unique\s+)?index|drop\s+index|reindex|alter\s+index)\b/i

/**
 * True for a statement Citus sends to its workers as the client's query
 * string, which must then be that statement alone.
 */
export function forwardedVerbatim(statement: string): boolean {
  const withoutComments = statement.replace(/^(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)+/, '')
  return FORWARDED_VERBATIM.test(withoutComments)
}

/**
 * The round trips of a script, in order: runs of ordinary statements
 * joined into one query, each verbatim-forwarded statement alone.
 */
export function scriptBatches(sql: string): string[] {
  const batches: string[] = []
  let run: string[] = []
  for (const statement of splitStatements(sql)) {
    if (forwardedVerbatim(statement)) {
      if (run.length) batches.push(run.join(';\n'))
      run = []
      batches.push(statement)
    } else {
      run.push(statement)
    }
  }
  if (run.length) batches.push(run.join(';\n'))
  return batches
}

/**
 * The queries that run `sql` as one transaction: its batches, with BEGIN
 * and COMMIT joined to the first and last when those are ordinary
 * statements (one query in all when there is one batch: the simple
 * protocol runs it as one implicit transaction). Inside a transaction
 * already (`inTransaction`), the batches as they are.
 */
export function transactionQueries(sql: string, inTransaction: boolean): string[] {
  const batches = scriptBatches(sql)
  if (inTransaction || batches.length <= 1) return batches
  const queries = [...batches]
  if (forwardedVerbatim(queries[0])) queries.unshift('begin')
  else queries[0] = `begin;\n${queries[0]}`
  const last = queries.length - 1
  if (forwardedVerbatim(queries[last])) queries.push('commit')
  else queries[last] = `${queries[last]};\ncommit`
  return queries
}
