/*
|--------------------------------------------------------------------------
| npm run dev
|--------------------------------------------------------------------------
|
| Creates the database when it is missing, applies pending migrations
| (platform, then every tenant schema), then runs the API with hot reload
| and the queue worker side by side, against local services. Ctrl+C stops
| both. Needs no .env: in development the defaults of .env.example apply
| (start/env.ts).
|
*/
import { spawn, spawnSync } from 'node:child_process'

const node = process.execPath
const run = (args) => spawnSync(node, args, { stdio: 'inherit' }).status === 0

if (
  !run(['ace.js', 'db:create']) ||
  !run(['ace.js', 'migration:run', '--connection=migrations']) ||
  !run(['ace.js', 'tenants:migrate'])
) {
  process.exit(1)
}

const children = [
  spawn(node, ['ace.js', 'serve', '--hmr'], { stdio: 'inherit' }),
  spawn(node, ['--watch-path=app', '--watch-path=config', 'ace.js', 'queue:work'], {
    stdio: 'inherit',
  }),
]

/**
 * The processes below a child (`ace serve` runs the server as its own
 * child), from pgrep.
 */
const descendants = (pid) =>
  (spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .flatMap((child) => [child, ...descendants(child)])

const signal = (pid, name) => {
  try {
    process.kill(pid, name)
  } catch {}
}

/**
 * SIGTERM to every process of the tree: `ace serve` does not pass it on to
 * the server it runs and keeps watching files, so it and whatever else
 * still runs after a grace period is killed.
 */
let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  const tree = children.flatMap((child) =>
    child.pid ? [child.pid, ...descendants(child.pid)] : []
  )
  for (const pid of tree) signal(pid, 'SIGTERM')
  setTimeout(() => tree.forEach((pid) => signal(pid, 'SIGKILL')), 10_000).unref()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
for (const child of children) {
  child.on('exit', (code) => {
    stop()
    process.exitCode = code ?? 0
  })
}
