import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import { prehashedPassword } from '#auth/passwords'
import UserPolicy from '#policies/user_policy'
import { UserService } from '#services/user_service'
import UserTransformer from '#transformers/user_transformer'
import { createUserValidator, listUsersValidator, updateUserValidator } from '#validators/user'

/**
 * The owner manages the people of the store (see UserPolicy). Passwords
 * arrive already hashed by the `userWrite` middleware, before the tenant
 * transaction opened (see docs/design/users.md).
 */
@inject()
export default class UsersController {
  constructor(private users: UserService) {}

  async index({ request, bouncer, serialize }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('viewList')
    const filters = await request.validateUsing(listUsersValidator, { data: request.qs() })
    const page = await this.users.list(filters)
    return serialize({ data: UserTransformer.transform(page.data), meta: page.meta })
  }

  /**
   * The password arrives hashed by the `userWrite` middleware, before the
   * tenant transaction took a pooled connection (docs/design/users.md).
   */
  async store(ctx: HttpContext) {
    const { request, response, bouncer, serialize } = ctx
    await bouncer.with(UserPolicy).authorize('create')
    const { password, ...input } = await request.validateUsing(createUserValidator)
    const user = await this.users.create({
      ...input,
      passwordHash: prehashedPassword(ctx, password),
    })
    return response.created(await serialize(UserTransformer.transform(user)))
  }

  async show({ params, bouncer, serialize }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('view')
    return serialize(UserTransformer.transform(await this.users.find(params.id)))
  }

  async update(ctx: HttpContext) {
    const { params, request, auth, bouncer, serialize } = ctx
    await bouncer.with(UserPolicy).authorize('update')
    const { password, ...changes } = await request.validateUsing(updateUserValidator)
    const passwordHash = password === undefined ? undefined : prehashedPassword(ctx, password)
    const user = await this.users.update(auth.getUserOrFail(), params.id, {
      ...changes,
      passwordHash,
    })
    return serialize(UserTransformer.transform(user))
  }

  async destroy({ params, response, auth, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('delete')
    await this.users.delete(auth.getUserOrFail(), params.id)
    return response.noContent()
  }
}
