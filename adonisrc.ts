import { defineConfig } from '@adonisjs/core/app'

export default defineConfig({
  /*
  | Ace commands of the packages, then the application's own from the index
  | the build writes (commands/_manifest.ts: a built command imports its own
  | file only). Without an index (the sources), Ace reads every file of the
  | "commands" directory.
  */
  commands: [
    () => import('@adonisjs/core/commands'),
    () => import('@adonisjs/lucid/commands'),
    () => import('./commands/_manifest.js'),
  ],

  /*
  | Build hooks: the index of the application's commands.
  */
  hooks: {
    buildFinished: [() => import('./bin/commands_index.js')],
  },

  /*
  | Service providers. There is no session, shield or CSRF provider: this is
  | a token-authenticated JSON API and that stack only costs throughput.
  */
  providers: [
    () => import('@adonisjs/core/providers/app_provider'),
    () => import('@adonisjs/core/providers/hash_provider'),
    {
      file: () => import('@adonisjs/core/providers/repl_provider'),
      environment: ['repl', 'test'],
    },
    () => import('@adonisjs/core/providers/vinejs_provider'),
    () => import('@adonisjs/lucid/database_provider'),
    () => import('@adonisjs/redis/redis_provider'),
    () => import('@adonisjs/limiter/limiter_provider'),
    () => import('@adonisjs/auth/auth_provider'),
    () => import('@adonisjs/bouncer/bouncer_provider'),
    () => import('#providers/queue_provider'),
    () => import('#providers/api_provider'),
  ],

  /*
  | Modules imported before the application starts. Routes and the HTTP
  | kernel (controllers' validators, middleware, the JWT helpers) only where
  | an HTTP server runs: ace commands start without them (bin/console.ts
  | loads them for list:routes).
  */
  preloads: [
    { file: () => import('#start/routes'), environment: ['web', 'test'] },
    { file: () => import('#start/kernel'), environment: ['web', 'test'] },
    () => import('#start/events'),
  ],

  tests: {
    suites: [
      {
        files: ['tests/unit/**/*.spec.{ts,js}'],
        name: 'unit',
        timeout: 30_000,
      },
      {
        files: ['tests/functional/**/*.spec.{ts,js}'],
        name: 'functional',
        timeout: 30_000,
      },
      {
        files: ['tests/reliability/**/*.spec.{ts,js}'],
        name: 'reliability',
        timeout: 120_000,
      },
      {
        files: ['tests/browser/**/*.spec.{ts,js}'],
        name: 'browser',
        timeout: 60_000,
      },
      {
        files: ['tests/citus/**/*.spec.{ts,js}'],
        name: 'citus',
        timeout: 180_000,
      },
    ],
    forceExit: true,
  },

  /*
  | Files copied as they are into the production build.
  */
  metaFiles: [{ pattern: 'docs/openapi.yaml', reloadServer: false }],
})
