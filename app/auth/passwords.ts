import hash from '@adonisjs/core/services/hash'
import type { HttpContext } from '@adonisjs/core/http'
import { currentTenant } from '#tenancy/context'

/**
 * Password hashing. scrypt is slow on purpose (tens of milliseconds of
 * CPU), so it never runs while a pooled connection is held: a tenant that
 * creates users in a loop would otherwise keep connections idle in
 * transaction and starve every other tenant of the pool.
 */
export class HashingInTransactionError extends Error {
  constructor() {
    super('A password must be hashed before the tenant transaction opens')
  }
}

function insideTenantTransaction(): boolean {
  try {
    currentTenant()
    return true
  } catch {
    return false
  }
}

/**
 * Hashes a password; refuses to run inside a tenant transaction (a bug:
 * hash first, then enter the tenant).
 */
export async function hashPassword(plain: string): Promise<string> {
  if (insideTenantTransaction()) throw new HashingInTransactionError()
  return hash.make(plain)
}

/**
 * The users endpoints run inside the request's tenant transaction, which
 * the `tenant` middleware opens before the controller. Their password is
 * therefore hashed earlier, by the `userWrite` middleware, and handed to
 * the controller with the request.
 */
const prehashed = new WeakMap<HttpContext['request'], { plain: string; hash: string }>()

export async function prehashPassword(ctx: HttpContext, plain: string): Promise<void> {
  prehashed.set(ctx.request, { plain, hash: await hashPassword(plain) })
}

/**
 * The hash of the request's validated password, made before the tenant
 * transaction opened. Its absence is a wiring bug (the route lacks the
 * `userWrite` middleware), never a client error.
 */
export function prehashedPassword(ctx: HttpContext, plain: string): string {
  const entry = prehashed.get(ctx.request)
  if (!entry || entry.plain !== plain) {
    throw new Error('The password of this request was not hashed before its transaction')
  }
  return entry.hash
}
