import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import UserPolicy from '#policies/user_policy'
import { UserService } from '#services/user_service'
import UserTransformer from '#transformers/user_transformer'
import { createUserValidator, listUsersValidator, updateUserValidator } from '#validators/user'

/**
 * The owner manages the people of the store (see UserPolicy).
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

  async store({ request, response, bouncer, serialize }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('create')
    const input = await request.validateUsing(createUserValidator)
    return response.created(
      await serialize(UserTransformer.transform(await this.users.create(input)))
    )
  }

  async show({ params, bouncer, serialize }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('view')
    return serialize(UserTransformer.transform(await this.users.find(params.id)))
  }

  async update({ params, request, auth, bouncer, serialize }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('update')
    const changes = await request.validateUsing(updateUserValidator)
    const user = await this.users.update(auth.getUserOrFail(), params.id, changes)
    return serialize(UserTransformer.transform(user))
  }

  async destroy({ params, response, auth, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('delete')
    await this.users.delete(auth.getUserOrFail(), params.id)
    return response.noContent()
  }
}
