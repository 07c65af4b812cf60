import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * Build hook (adonisrc.ts, `buildFinished`): writes the index of the
 * application's commands, `build/commands/commands.json`, that
 * commands/_manifest.ts reads, so a built `node ace.js <command>` imports
 * that command's file alone instead of every file of `commands/`.
 *
 * The metadata is read by Ace's own directory loader over the compiled
 * files, exactly what `node ace list` shows, in a child process: importing
 * the commands imports their modules (configuration, drivers), which must
 * not load into the build process. A failure fails the build.
 */
const SCRIPT = `
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Ignitor } from '@adonisjs/core'
import { FsLoader } from '@adonisjs/core/ace'
const [buildRoot, directory] = process.argv.slice(1)
const appRoot = pathToFileURL(buildRoot + '/')
// The commands' modules reach the application's services (the db service
// registers on the app when imported): an initialised application, as
// when ace runs, not booted.
const app = new Ignitor(appRoot, { importer: (path) => import(new URL(path, appRoot).href) })
  .createApp('console')
await app.init()
const commands = await new FsLoader(directory).getMetaData()
writeFileSync(join(directory, 'commands.json'), JSON.stringify({ commands, version: 1 }))
process.stdout.write(commands.length + ' commands')
process.exit(0)
`

export default function writeCommandsIndex(bundler: { cwdPath: string }) {
  const buildRoot = join(bundler.cwdPath, 'build')
  const directory = join(buildRoot, 'commands')
  const args = ['--input-type=module', '-e', SCRIPT, buildRoot, directory]
  const result = spawnSync(process.execPath, args, {
    cwd: bundler.cwdPath,
    encoding: 'utf-8',
    // Metadata only: a development environment, with the defaults of the
    // project's .env.example (start/env.ts) where nothing sets a variable.
    env: { ...process.env, NODE_ENV: 'development', ENV_PATH: bundler.cwdPath },
  })
  if (result.status !== 0) {
    throw new Error(`Could not write the commands index: ${result.stderr || result.error}`)
  }
  console.log(`commands index written (${result.stdout}): ${join(directory, 'commands.json')}`)
}
