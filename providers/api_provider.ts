import { HttpContext } from '@adonisjs/core/http'
import { BaseSerializer } from '@adonisjs/core/transformers'

/**
 * Serializes what controllers hand to `ctx.serialize()`: transformer items
 * and collections, or plain objects holding them. Nothing is wrapped: the
 * contract answers a resource as itself, and a page as `{data, meta}`
 * (built by the controller from `paginate()`'s page, since the
 * framework's paginator would name its metadata `metadata`).
 */
class ApiSerializer extends BaseSerializer<{ PaginationMetaData: never }> {
  wrap = undefined

  definePaginationMetaData(): never {
    throw new Error('Paginate with #services/pagination, then serialize {data, meta}')
  }
}

declare module '@adonisjs/core/http' {
  export interface HttpContext {
    serialize: ApiSerializer['serialize']
  }
}

const serializer = new ApiSerializer()

export default class ApiProvider {
  register() {
    HttpContext.instanceProperty('serialize', function (this: HttpContext, values: any): any {
      return serializer.serialize(values, this.containerResolver)
    })
  }
}
