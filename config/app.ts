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
})
