import proxyAddr from 'proxy-addr'
import env from '#start/env'
import { defineConfig } from '@adonisjs/core/http'

/**
 * The app key signs and encrypts framework values. Tokens use JWT_SECRET.
 */
export const appKey = env.get('APP_KEY')

export const http = defineConfig({
  /**
   * Every request gets an id (an incoming "x-request-id" is kept); it is on
   * every log line and returned in the response.
   */
  generateRequestId: true,
  allowMethodSpoofing: false,
  useAsyncLocalStorage: false,
  /**
   * Only the proxies named by TRUST_PROXY (default: loopback) may set the
   * client address through X-Forwarded-For; anyone else could spoof it and
   * slip past the per-IP rate limits.
   */
  trustProxy: proxyAddr.compile(
    env
      .get('TRUST_PROXY', 'loopback')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
  ),
  cookie: {},
  /**
   * Response bodies are plain JSON data: the engine's JSON.stringify writes
   * them several times faster than the framework's default (a replacer
   * called on every value, about 5 % of a page request's CPU). A bigint,
   * which it refuses, is written as a string, as the default does.
   */
  serializeJSON(value: unknown) {
    try {
      return JSON.stringify(value)
    } catch (error) {
      if (!(error instanceof TypeError)) throw error
      return JSON.stringify(value, (_key, item) =>
        typeof item === 'bigint' ? item.toString() : item
      )
    }
  },
})
