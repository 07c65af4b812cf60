import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { prehashPassword } from '#auth/passwords'
import { throttleUserAccounts } from '#auth/rate_limits'
import UserPolicy from '#policies/user_policy'
import { passwordValidator } from '#validators/user'

/**
 * Runs on POST /api/users/ and PATCH /api/users/:id/ after `auth` and
 * before `tenant`, that is before any pooled connection is taken:
 *
 * 1. authorizes with the token's role (403 for staff and customers, who
 *    may never manage users; the controller authorizes again with the
 *    role the tenant middleware reads from the database);
 * 2. counts a request that can tell whether a username or email is taken
 *    on the platform (creating a user, changing an email) against the
 *    tenant's RATE_LIMIT_USER_ACCOUNTS (429);
 * 3. hashes the body's password when it is a valid one, so the slow scrypt
 *    never runs inside the tenant transaction (see docs/design/users.md).
 */
export default class UserWriteMiddleware {
  async handle(ctx: HttpContext, next: NextFn, options: { ability: 'create' | 'update' }) {
    await ctx.bouncer.with(UserPolicy).authorize(options.ability)

    const body = ctx.request.body()
    if (options.ability === 'create' || body.email !== undefined) {
      const principal = ctx.auth.getUserOrFail()
      await throttleUserAccounts(principal.tenantId)
    }

    const [invalid, valid] = await passwordValidator.tryValidate(body)
    if (!invalid && valid.password !== undefined) await prehashPassword(ctx, valid.password)
    return next()
  }
}
