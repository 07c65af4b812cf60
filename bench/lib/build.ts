import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './env.ts'
import { runToEnd } from './processes.ts'

const SOURCES = ['app', 'bin', 'config', 'database', 'start', 'commands', 'providers']
const SOURCE_FILES = ['adonisrc.ts', 'package.json', 'ace.js']

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) {
    newest = Math.max(newest, newestMtime(join(path, entry)))
  }
  return newest
}

/**
 * Builds the application (`node ace build`) when build/ is missing or
 * older than any source file, so the benchmark always measures the code of
 * the checkout.
 */
export async function ensureBuild(log: (line: string) => void) {
  const marker = join(ROOT, 'build/bin/server.js')
  const sources = Math.max(
    ...SOURCES.map((dir) => newestMtime(join(ROOT, dir))),
    ...SOURCE_FILES.map((file) => newestMtime(join(ROOT, file)))
  )
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) {
    log('build/ is up to date')
    removeBenchMigrations()
    return
  }
  log('building the application (node ace build)…')
  const result = await runToEnd(process.execPath, ['ace.js', 'build'], {
    env: { ...process.env } as Record<string, string>,
    timeoutMs: 180_000,
  })
  if (result.code !== 0) {
    throw new Error(`node ace build failed:\n${result.output.slice(-3000)}`)
  }
  removeBenchMigrations()
}

/**
 * Tenant migrations the migrate scenario drops into build/ while it runs;
 * removed again afterwards (and here, in case a run was interrupted).
 */
export const BENCH_MIGRATION_PATTERN = /^9\d{3}_bench_.*\.js$/

export function buildTenantMigrationsDir() {
  return join(ROOT, 'build/database/tenant_migrations')
}

export function removeBenchMigrations() {
  const dir = buildTenantMigrationsDir()
  if (!existsSync(dir)) return
  for (const file of readdirSync(dir)) {
    if (BENCH_MIGRATION_PATTERN.test(file)) rmSync(join(dir, file))
  }
}
