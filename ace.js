/*
|--------------------------------------------------------------------------
| JavaScript entrypoint for running ace commands
|--------------------------------------------------------------------------
|
| Registers the TypeScript hook, then imports "bin/console.ts". The build
| replaces this file with a plain JavaScript entrypoint.
|
*/
import '@poppinss/ts-exec'

await import('./bin/console.js')
