/**
 * SQL scripts (several statements in one string) and how they are sent to
 * Citus. On plain PostgreSQL a script is one simple-protocol query (one
 * round trip, one implicit transaction). On Citus the statements are
 * joined likewise, except those Citus forwards to its workers as the
 * client's whole query string (CREATE INDEX, DROP INDEX, REINDEX, ALTER
 * INDEX, most ALTER TABLE forms): a worker refuses a multi-statement
 * string ("cannot insert multiple commands into a prepared statement"), so
 * each of those goes on its own, in the same transaction.
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

/**
 * Statements Citus rebuilds (deparses) for its workers, or runs on the
 * coordinator only, so they may share a multi-statement query: queries and
 * DML, CREATE SCHEMA / TABLE / SEQUENCE / VIEW, COMMENT, DROP TABLE /
 * SCHEMA / SEQUENCE / VIEW, TRUNCATE, ALTER TABLE … ADD COLUMN. Checked
 * on Citus 13.2; anything else (CREATE / DROP INDEX, REINDEX, ALTER INDEX,
 * and the other ALTER TABLE forms: DROP COLUMN, ALTER COLUMN, ADD
 * CONSTRAINT, RENAME …) Citus forwards as the client's query string.
 */
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)`
const JOINABLE = new RegExp(
  [
    String.raw`^(?:select|insert|update|delete|with|values|comment|truncate)\b`,
    String.raw`^create\s+(?:schema|table|sequence|(?:or\s+replace\s+)?view)\b`,
    String.raw`^drop\s+(?:table|schema|sequence|view)\b`,
    String.raw`^alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?${IDENT}(?:\s*\.\s*${IDENT})?\s+add\s+(?:column\s+)?(?!(?:constraint|primary|unique|check|foreign|exclude)\b)${IDENT}\s`,
  ].join('|'),
  'i'
)

/**
 * True for a statement that must be a query of its own: Citus sends it to
 * its workers as the client's query string, and a worker refuses a
 * multi-statement string ("cannot insert multiple commands into a
 * prepared statement").
 */
export function forwardedVerbatim(statement: string): boolean {
  const withoutComments = statement.replace(/^(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)+/, '')
  return !JOINABLE.test(withoutComments)
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
