import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ROOT } from './env.ts'
import { sleep } from './stats.ts'

/**
 * Child processes of the harness: the built API, the worker, the floor
 * servers. Each is started with an explicit environment, its output kept
 * (the last 20 kB, or all of it for commands run to their end), and stopped with SIGTERM (SIGKILL
 * after a grace period). Every child is stopped when the harness exits.
 */
const running = new Set<Child>()

export class Child {
  output = ''
  exitCode: number | null = null
  exited: Promise<number | null>
  readonly process: ChildProcess

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    private maxOutput = 20_000
  ) {
    this.process = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-this.maxOutput)
    }
    this.process.stdout?.on('data', collect)
    this.process.stderr?.on('data', collect)
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : null)
        running.delete(this)
        resolve(this.exitCode)
      })
      this.process.on('error', (error) => {
        this.output += `\n${error.message}`
        this.exitCode = -1
        running.delete(this)
        resolve(-1)
      })
    })
    running.add(this)
  }

  get alive() {
    return this.exitCode === null
  }

  async stop(graceMs = 10_000) {
    if (!this.alive) return
    this.process.kill('SIGTERM')
    const stopped = await Promise.race([
      this.exited.then(() => true),
      sleep(graceMs).then(() => false),
    ])
    if (!stopped && this.alive) {
      this.process.kill('SIGKILL')
      await this.exited
    }
  }
}

export function stopAllChildren() {
  for (const child of running) {
    if (child.alive) child.process.kill('SIGKILL')
  }
}

process.on('exit', stopAllChildren)

/**
 * Runs a command to its end (bounded by `timeoutMs`) and returns its exit
 * code, combined output and duration.
 */
export async function runToEnd(
  command: string,
  args: string[],
  { env, timeoutMs }: { env: Record<string, string>; timeoutMs: number }
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = performance.now()
  const child = new Child(args.join(' '), command, args, env, 5_000_000)
  const finished = await Promise.race([
    child.exited.then(() => true),
    sleep(timeoutMs).then(() => false),
  ])
  if (!finished) {
    await child.stop(2_000)
    return {
      code: null,
      output: `${child.output}\n(timed out after ${timeoutMs} ms)`,
      ms: performance.now() - started,
    }
  }
  return { code: child.exitCode, output: child.output, ms: performance.now() - started }
}

/**
 * A free TCP port on the loopback interface.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * Waits until `url` answers 200 (or the child exits, or the time is up).
 */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!child.alive) {
      throw new Error(
        `${child.name} exited (code ${child.exitCode}):\n${child.output.slice(-2000)}`
      )
    }
    try {
      const response = await fetch(url)
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms:\n${child.output}`)
}

/**
 * The node flags of a production script of package.json (`start`, `worker`):
 * `node <flags…> <args…>` must end with `args`. The harness starts the API
 * and the worker with these flags, so it measures the processes production
 * runs (`npm start`, `npm run worker`, the Dockerfile and compose).
 */
export function productionNodeFlags(
  script: 'start' | 'worker',
  args: string[],
  manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
): string[] {
  const line: string | undefined = manifest.scripts?.[script]
  const words = line?.trim().split(/\s+/) ?? []
  const flags = words.slice(1, words.length - args.length)
  const tail = words.slice(words.length - args.length)
  if (
    words[0] !== 'node' ||
    tail.join(' ') !== args.join(' ') ||
    flags.some((flag) => !flag.startsWith('--'))
  ) {
    throw new Error(
      `package.json script "${script}" is not "node [--flag…] ${args.join(' ')}": ${line}`
    )
  }
  return flags
}

/**
 * Resident set size of a process in MiB (`ps -o rss=`, which reports KiB),
 * or null when the process is gone.
 */
export async function rssMiB(pid: number | undefined): Promise<number | null> {
  if (!pid) return null
  const result = await runToEnd('ps', ['-o', 'rss=', '-p', String(pid)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 5_000,
  })
  const kib = Number(result.output.trim())
  return result.code === 0 && Number.isFinite(kib) && kib > 0 ? kib / 1024 : null
}

/**
 * Node with the TypeScript hook, for the harness's own child scripts.
 */
export function tsNodeArgs(script: string) {
  return ['--import=@poppinss/ts-exec', script]
}
