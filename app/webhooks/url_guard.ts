import { BlockList, isIP } from 'node:net'
import { lookup as dnsLookup } from 'node:dns/promises'

/**
 * SSRF fence for webhook URLs (docs/design/webhooks.md). A URL must be
 * `https` and every address its host resolves to must be public; the check
 * runs when the URL is saved and again before every attempt, and the
 * attempt connects to the address that was checked (so a name that
 * resolves to a public address once and to a private one next — DNS
 * rebinding — never reaches the private one). `allowPrivate` (development
 * and tests) lifts both rules.
 */
export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>

const systemResolver: Resolver = async (hostname) => {
  const addresses = await dnsLookup(hostname, { all: true, verbatim: true })
  return addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))
}

let resolver: Resolver = systemResolver

/**
 * Replaces how host names are resolved (tests make a public-looking name
 * resolve to 127.0.0.1 without any network); no argument restores DNS.
 */
export function useResolver(custom?: Resolver): void {
  resolver = custom ?? systemResolver
}

export class RefusedUrlError extends Error {}

const NON_PUBLIC = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6')
}

/**
 * Whether an IP address is public (not loopback, private, link-local,
 * shared, documentation, multicast, reserved, or an IPv4-mapped/translated
 * form of one).
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4')
  if (family === 6) return !NON_PUBLIC.check(address, 'ipv6')
  return false
}

const RESOLVE_TIMEOUT_MS = 2_000

/**
 * Checks a URL and resolves its host: the addresses an attempt may
 * connect to. Throws RefusedUrlError with a message for the client.
 */
export async function checkUrl(
  raw: string,
  { allowPrivate }: { allowPrivate: boolean }
): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new RefusedUrlError('The url field must be an absolute URL')
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw new RefusedUrlError('The url field must be an https URL')
  }
  if (url.username || url.password) {
    throw new RefusedUrlError('The url field must not contain credentials')
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) throw new RefusedUrlError('The url field must name a host')

  let addresses: ResolvedAddress[]
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }]
  } else {
    addresses = await withTimeout(resolver(host), RESOLVE_TIMEOUT_MS).catch(() => {
      throw new RefusedUrlError(`The url field's host ${host} does not resolve`)
    })
    if (addresses.length === 0) {
      throw new RefusedUrlError(`The url field's host ${host} does not resolve`)
    }
  }
  if (!allowPrivate) {
    const refused = addresses.find((entry) => !isPublicAddress(entry.address))
    if (refused) {
      throw new RefusedUrlError(
        `The url field must point to a public address (${host} is ${refused.address})`
      )
    }
  }
  return { url, addresses }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
