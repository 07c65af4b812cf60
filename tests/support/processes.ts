import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'

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
