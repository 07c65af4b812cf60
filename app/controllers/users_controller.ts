import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import type { AuthPrincipal } from '#auth/jwt_guard'
import UserPolicy from '#policies/user_policy'
import { UserService } from '#services/user_service'
import { userTransformer } from '#transformers/user_transformer'
import { createUserValidator, listUsersValidator, updateUserValidator } from '#validators/user'

/**
 * The owner manages the people of the store (see UserPolicy).
 */
@inject()
export default class UsersController {
  constructor(private users: UserService) {}

  async index({ request, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('viewList')
    const filters = await request.validateUsing(listUsersValidator, { data: request.qs() })
    return this.users.list(filters)
  }

  async store({ request, response, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('create')
    const input = await request.validateUsing(createUserValidator)
    return response.created(userTransformer.transform(await this.users.create(input)))
  }

  async show({ params, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('view')
    return userTransformer.transform(await this.users.find(params.id))
  }

  async update({ params, request, auth, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('update')
    const changes = await request.validateUsing(updateUserValidator)
    const caller = auth.getUserOrFail() as AuthPrincipal
    return userTransformer.transform(await this.users.update(caller, params.id, changes))
  }

  async destroy({ params, response, auth, bouncer }: HttpContext) {
    await bouncer.with(UserPolicy).authorize('delete')
    await this.users.delete(auth.getUserOrFail() as AuthPrincipal, params.id)
    return response.noContent()
  }
}
