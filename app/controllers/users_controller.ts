import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import { prehashedPassword } from '#auth/passwords'
import UserPolicy from '#policies/user_policy'
import { UserService } from '#services/user_service'
import { userTransformer } from '#transformers/user_transformer'
import { createUserValidator, listUsersValidator, updateUserValidator } from '#validators/user'

/**
 * The owner manages the people of the store (see UserPolicy). Passwords
 * arrive already hashed by the `userWrite` middleware, before the tenant
 * transaction opened (see docs/design/users.md).
 */
@inject()
export default class UsersController {
  constructor(private users: UserService) {}

  async index({ request, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('viewList')
    const filters = await request.validateUsing(listUsersValidator, { data: request.qs() })
    return this.users.list(filters)
  }

  async store(ctx: HttpContext) {
    const { request, response, bouncer } = ctx
    await bouncer.with(UserPolicy).authorize('create')
    const { password, ...input } = await request.validateUsing(createUserValidator)
    const passwordHash = prehashedPassword(ctx, password)
    const user = await this.users.create({ ...input, passwordHash })
    return response.created(userTransformer.transform(user))
  }

  async show({ params, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('view')
    return userTransformer.transform(await this.users.find(params.id))
  }

  async update(ctx: HttpContext) {
    const { params, request, auth, bouncer } = ctx
    await bouncer.with(UserPolicy).authorize('update')
    const { password, ...changes } = await request.validateUsing(updateUserValidator)
    const passwordHash = password === undefined ? undefined : prehashedPassword(ctx, password)
    const caller = auth.getUserOrFail() as AuthPrincipal
    const user = await this.users.update(caller, params.id, { ...changes, passwordHash })
    return userTransformer.transform(user)
  }

  async destroy({ params, response, auth, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('delete')
    await this.users.delete(auth.getUserOrFail() as AuthPrincipal, params.id)
    return response.noContent()
  }
}
