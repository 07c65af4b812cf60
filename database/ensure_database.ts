import pg from 'pg'

export interface ServerSettings {
  host: string
  port: number
  user: string
  password?: string
}

/**
 * Creates the database when it does not exist yet (a fresh machine runs
 * `npm run dev` against a bare PostgreSQL). Connects to the `postgres`
 * maintenance database with the same credentials; a database created by a
 * concurrent caller in the meantime counts as there. Answers whether it
 * created it.
 */
export async function ensureDatabase(server: ServerSettings, name: string): Promise<boolean> {
  const client = new pg.Client({ ...server, database: 'postgres' })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (rowCount) return false
    await client.query(`create database "${name.replaceAll('"', '""')}"`)
    return true
  } catch (error) {
    // 42P04 duplicate_database: created by someone else since the check.
    if ((error as { code?: string }).code === '42P04') return false
    throw error
  } finally {
    await client.end()
  }
}
