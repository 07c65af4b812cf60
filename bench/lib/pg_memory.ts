import { readFile } from 'node:fs/promises'
import type pg from 'pg'

export interface BackendMemory {
  backends: number
  /** anonymous (backend-private: caches, work memory) MiB, all backends */
  totalMiB: number
  /** the largest backend's anonymous MiB */
  maxMiB: number
}

/**
 * Private memory of the PostgreSQL backends serving one application
 * (found by application_name, which the harness sets with PGAPPNAME), from
 * /proc/<pid>/smaps_rollup: `Anonymous` counts the backend's own heap
 * (catalog and relation caches, work memory), not shared buffers. Null
 * when PostgreSQL is not a local process this user may inspect.
 */
export async function backendMemory(
  pool: pg.Pool,
  applicationName: string,
  database: string
): Promise<BackendMemory | null> {
  const { rows } = await pool.query(
    'select pid from pg_stat_activity where application_name = $1 and datname = $2',
    [applicationName, database]
  )
  const sizes: number[] = []
  for (const { pid } of rows) {
    try {
      const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8')
      const match = /^Anonymous:\s+(\d+) kB/m.exec(text)
      if (match) sizes.push(Number(match[1]) / 1024)
    } catch (error) {
      // a backend that exited since the query (a connection the pool just
      // retired) has nothing left to count; anything else: not readable
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      return null
    }
  }
  if (sizes.length === 0) return { backends: 0, totalMiB: 0, maxMiB: 0 }
  return {
    backends: sizes.length,
    totalMiB: sizes.reduce((sum, size) => sum + size, 0),
    maxMiB: Math.max(...sizes),
  }
}
