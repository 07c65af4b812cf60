import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { runtimeRole } from '#config/database'

/**
 * Child processes for the reliability suite: a private redis-server the
 * test may stop and start (the shared Redis is never touched), and real
 * worker processes (`node ace.js queue:work`) the test may kill.
 */
const APP_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface PrivateRedis {
  port: number
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * A throwaway redis-server on a free port, without persistence: stopping
 * and starting it again loses every key, like a crashed Redis.
 */
export async function privateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined

  const ping = async () => {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      return (await client.ping()) === 'PONG'
    } catch {
      return false
    } finally {
      client.disconnect()
    }
  }

  return {
    port,
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          ...extraArgs,
        ],
        { stdio: 'ignore' }
      )
      for (let attempt = 0; attempt < 100; attempt++) {
        if (await ping()) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`redis-server did not start on port ${port}`)
    },
    async stop() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGKILL')
      await exited
    },
  }
}

export interface WorkerProcess {
  pid: number
  output: () => string
  exited: Promise<number | null>
  kill(signal: NodeJS.Signals): Promise<number | null>
}

/**
 * Starts `node ace.js queue:work` in the test environment (same database,
 * same Redis DB and prefix as this process, unless `env` says otherwise)
 * and resolves once it reports it is running.
 */
export async function spawnWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['ace.js', 'queue:work'], {
    cwd: APP_ROOT,
    // WORKER_METRICS_PORT 0: each worker serves its metrics on a free port,
    // so several never collide (whatever a local .env says).
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code))
  )

  const deadline = Date.now() + 60_000
  while (!output.includes('worker started')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`worker did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return {
    pid: child.pid!,
    output: () => output,
    exited,
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

/**
 * Runs an ace command to its end in the test environment.
 */
export async function runAce(
  args: string[],
  env: Record<string, string> = {}
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['ace.js', ...args], {
    cwd: APP_ROOT,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, output }
}

export interface ApiProcess {
  url: string
  output: () => string
  kill(signal: NodeJS.Signals): Promise<number | null>
}

/**
 * Starts the real server entrypoint (`bin/server.ts`) in the test
 * environment on a free port, and resolves once it answers.
 */
export async function spawnApi(env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', '@poppinss/ts-exec', 'bin/server.ts'], {
    cwd: APP_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code))
  )
  const url = `http://127.0.0.1:${port}`

  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`API did not start:\n${output}`)
    }
    const live = await fetch(`${url}/health/live`).then(
      (response) => response.ok,
      () => false
    )
    if (live) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  return {
    url,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

export interface PrivatePgbouncer {
  port: number
  stop(): Promise<void>
}

/**
 * The pgbouncer binary, or null when it is not installed (Debian puts it
 * in /usr/sbin, which is not on every PATH).
 */
export function pgbouncerBinary(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, 'pgbouncer'))) return join(dir, 'pgbouncer')
  }
  return null
}

/**
 * A throwaway PgBouncer in transaction mode on a free loopback port, in
 * front of the PostgreSQL the tests use, with `poolSize` server connections
 * per database and user. PgBouncer refuses to run as root: then it is told
 * to switch to the `postgres` user.
 */
export async function privatePgbouncer({
  poolSize,
  dbHost,
  dbPort,
  dbUser,
}: {
  poolSize: number
  dbHost: string
  dbPort: number
  dbUser: string
}): Promise<PrivatePgbouncer> {
  const binary = pgbouncerBinary()
  if (!binary) throw new Error('pgbouncer is not installed')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'))
  // The owner role (sign-up, commands) and the runtime role (tenant work)
  writeFileSync(join(dir, 'users.txt'), `"${dbUser}" ""\n"${runtimeRole.user}" ""\n`)
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${dbHost} port=${dbPort}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 200',
      'server_reset_query =',
      '',
    ].join('\n')
  )
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    chmodSync(dir, 0o755)
    for (const file of ['users.txt', 'pgbouncer.ini']) chmodSync(join(dir, file), 0o644)
  }
  const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise((resolve) => child.once('exit', resolve))

  for (let attempt = 0; !output.includes('process up'); attempt++) {
    if (child.exitCode !== null || attempt > 200) {
      child.kill('SIGKILL')
      throw new Error(`pgbouncer did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
