/**
 * The part of newman's API the tests use (newman ships no types).
 */
declare module 'newman' {
  import type { EventEmitter } from 'node:events'

  export interface NewmanFailure {
    error: { name?: string; message: string; test?: string }
    source?: { name?: string }
    at?: string
  }

  export interface NewmanRunSummary {
    run: {
      stats: Record<'requests' | 'assertions' | 'testScripts', { total: number; failed: number }>
      failures: NewmanFailure[]
    }
  }

  export interface NewmanRequestEvent {
    request: { method: string; url: { toString(): string } }
    response?: {
      code: number
      headers: { toObject(): Record<string, string> }
      stream?: Buffer
      text(): string
    }
    item: { name: string }
  }

  export interface NewmanRunOptions {
    collection: string | object
    envVar?: { key: string; value: string }[]
    reporters?: string | string[]
    timeoutRequest?: number
    timeoutScript?: number
    bail?: boolean
  }

  export interface NewmanRun extends EventEmitter {
    on(event: 'request', listener: (error: Error | null, args: NewmanRequestEvent) => void): this
    on(event: string, listener: (...args: any[]) => void): this
  }

  const newman: {
    run(
      options: NewmanRunOptions,
      callback: (error: Error | null, summary: NewmanRunSummary) => void
    ): NewmanRun
  }
  export default newman
}
