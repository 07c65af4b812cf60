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
  !run(['ace.js', 'migration:run']) ||
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

const stop = () => children.forEach((child) => child.kill('SIGTERM'))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
for (const child of children) {
  child.on('exit', (code) => {
    stop()
    process.exitCode = code ?? 0
  })
}
