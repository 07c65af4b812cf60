import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { ResolvedAddress } from '#webhooks/url_guard'

export interface SendResult {
  /** The HTTP status, or null when there was no answer. */
  statusCode: number | null
  /** Why it failed (no answer, or the start of a non-2xx answer). */
  error: string | null
  ok: boolean
}

/**
 * One POST to a receiver, connected to an address already checked by the
 * URL guard (the socket's lookup returns that address, so no second DNS
 * answer is used; TLS still verifies the certificate for the URL's host).
 * Redirects are never followed (a 3xx is a failure), the whole exchange is
 * bounded by `timeoutMs`, and at most `maxResponseBytes` of the answer are
 * read.
 */
export function send(
  url: URL,
  address: ResolvedAddress,
  headers: Record<string, string>,
  body: string,
  { timeoutMs, maxResponseBytes }: { timeoutMs: number; maxResponseBytes: number }
): Promise<SendResult> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      ;(callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [address])
    } else {
      callback(null, address.address, address.family)
    }
  }
  const client = url.protocol === 'https:' ? https : http

  return new Promise((resolve) => {
    let settled = false
    const finish = (result: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      request.destroy()
      resolve(result)
    }
    const timer = setTimeout(
      () => finish({ ok: false, statusCode: null, error: `No answer within ${timeoutMs} ms` }),
      timeoutMs
    )

    const request = client.request(
      url,
      {
        method: 'POST',
        lookup: pinned,
        agent: false,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'tenant-commerce-webhooks',
        },
      },
      (response) => {
        const statusCode = response.statusCode ?? null
        const ok = statusCode !== null && statusCode >= 200 && statusCode < 300
        const chunks: Buffer[] = []
        let read = 0
        const done = () => {
          const text = Buffer.concat(chunks).subarray(0, maxResponseBytes).toString('utf8')
          finish({
            ok,
            statusCode,
            error: ok ? null : `HTTP ${statusCode}${text ? `: ${text.slice(0, 500)}` : ''}`,
          })
        }
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          read += chunk.length
          if (read >= maxResponseBytes) done()
        })
        response.on('end', done)
        response.on('error', done)
      }
    )
    request.on('error', (error) =>
      finish({ ok: false, statusCode: null, error: error.message || String(error) })
    )
    request.end(body)
  })
}
