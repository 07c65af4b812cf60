/*
|--------------------------------------------------------------------------
| Ace entrypoint
|--------------------------------------------------------------------------
|
| Boots the ace command-line framework. Commands that need the application
| (migrations, the queue worker, tenant commands) set "startApp".
|
*/

import { enableCompileCache } from 'node:module'

/**
 * Commands are short processes that load the same modules every time:
 * Node's on-disk compile cache (in the OS temporary directory) spares them
 * compiling each module again (about a fifth of a no-op command's start).
 * Nothing happens where the directory is not writable.
 */
enableCompileCache()

/**
 * Ace's output library asks the terminal for its width when it loads: with
 * neither stdout nor stderr on a terminal (a pipe, a log collector, a CI
 * job) and no COLUMNS and LINES, that is two `tput` child processes, run
 * synchronously, on every command. The width of a pipe is the default one.
 */
if (!process.stdout.isTTY && !process.stderr.isTTY) {
  process.env.COLUMNS ??= '80'
  process.env.LINES ??= '24'
}

await import('reflect-metadata')
const { Ignitor, prettyPrintError } = await import('@adonisjs/core')

/**
 * In production every command validates the environment, secrets
 * included, before it runs, also those that do not start the application.
 */
if (process.env.NODE_ENV === 'production') {
  await import('#start/env')
}

const APP_ROOT = new URL('../', import.meta.url)
const commandName = process.argv.slice(2).find((value) => !value.startsWith('-'))

const IMPORTER = (filePath: string) => {
  if (filePath.startsWith('./') || filePath.startsWith('../')) {
    return import(new URL(filePath, APP_ROOT).href)
  }
  return import(filePath)
}

new Ignitor(APP_ROOT, { importer: IMPORTER })
  .tap((app) => {
    app.booting(async () => {
      await import('#start/env')
    })
    // Routes and the HTTP kernel preload for the web and test environments
    // only (adonisrc.ts); the command listing them needs them.
    if (commandName === 'list:routes') {
      app.starting(async () => {
        await import('#start/routes')
        await import('#start/kernel')
      })
    }
    app.listen('SIGTERM', () => app.terminate())
    app.listen('SIGINT', () => app.terminate())
  })
  .ace()
  .handle(process.argv.splice(2))
  .catch((error) => {
    process.exitCode = 1
    prettyPrintError(error)
  })
