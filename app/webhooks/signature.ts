import { createHmac, randomBytes } from 'node:crypto'
import encryption from '@adonisjs/core/services/encryption'

/**
 * Standard Webhooks secrets and signatures (docs/webhooks.md).
 *
 * A secret is `whsec_` followed by the base64 of 32 random bytes; the
 * signature of a message is `v1,` followed by the base64 HMAC-SHA256, keyed
 * with those bytes, of `<webhook-id>.<webhook-timestamp>.<body>`.
 */
const PREFIX = 'whsec_'
const PURPOSE = 'webhook-secret'

export function generateSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`
}

/**
 * Secrets are stored encrypted with the application key (APP_KEY): a dump
 * of the database alone cannot sign.
 */
export function sealSecret(secret: string): string {
  return encryption.encrypt(secret, undefined, PURPOSE)
}

/**
 * Opened secrets of this process, by sealed value (a rotation seals a new
 * value, so an entry can never be stale): every delivery opens its
 * endpoint's secret, and the decryption was a few percent of a delivery's
 * CPU. Bounded; the oldest entry goes first.
 */
const OPENED_MAX = 1_000
const opened = new Map<string, string>()

export function openSecret(sealed: string): string {
  const known = opened.get(sealed)
  if (known !== undefined) return known
  const secret = encryption.decrypt<string>(sealed, PURPOSE)
  if (typeof secret !== 'string' || !secret.startsWith(PREFIX)) {
    throw new Error('A webhook secret cannot be decrypted with this APP_KEY')
  }
  opened.set(sealed, secret)
  if (opened.size > OPENED_MAX) opened.delete(opened.keys().next().value as string)
  return secret
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64')
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
  return `v1,${mac}`
}

/**
 * The `webhook-signature` header: one signature per valid secret, the
 * current one first, space-separated.
 */
export function signatureHeader(
  secrets: string[],
  id: string,
  timestamp: number,
  body: string
): string {
  return secrets.map((secret) => sign(secret, id, timestamp, body)).join(' ')
}
