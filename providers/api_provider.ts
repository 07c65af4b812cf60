import { HttpContext } from '@adonisjs/core/http'
import {
  BaseSerializer,
  Collection,
  Item,
  Paginator,
  tracingChannels,
} from '@adonisjs/core/transformers'

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

/**
 * The framework resolves every transformed row through the container (a
 * method call with dependency lookup, a tracing span and a copy of the
 * output, all asynchronous): for a page of 20 rows, more than the page's
 * SQL costs here. A transformer whose method asks for nothing from the
 * container gives the same output when called directly, so `direct` does
 * that, synchronously; anything else (a method with injections, nested
 * items in the output, a traced process, values the framework refuses)
 * takes the framework's path unchanged.
 */

const SLOW = Symbol('slow')

type Transformed = Item<any, any, any> | Collection<any, any, any>

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isTransformed(value: unknown): value is Transformed | Paginator<any, any, any> {
  return value instanceof Item || value instanceof Collection || value instanceof Paginator
}

/**
 * One resource through its transformer, or SLOW.
 */
function transformOne(
  Transformer: new (...args: any[]) => any,
  variant: string,
  resource: unknown,
  rest: unknown[]
): unknown {
  if (resource === undefined) return SLOW
  const injections = (Transformer as { containerInjections?: Record<string, unknown> })
    .containerInjections
  if (injections?.[variant] || 'containerProvider' in Transformer) return SLOW
  const transformer = new Transformer(resource, ...rest)
  const method = transformer[variant]
  if (typeof method !== 'function' || method.length > 0) return SLOW
  const output = method.call(transformer)
  if (!isObject(output) || output instanceof Promise) return SLOW
  for (const key in output) {
    if (isTransformed(output[key])) return SLOW
  }
  return output
}

function directTransformed(value: Transformed): unknown {
  const { transformer, variant, transformerData } = value as unknown as {
    transformer: new (...args: any[]) => any
    variant: string
    transformerData: [unknown, unknown[]]
  }
  const [resources, rest] = transformerData
  if (value instanceof Item) return transformOne(transformer, variant, resources, rest)
  if (!Array.isArray(resources)) return SLOW
  const rows: unknown[] = []
  for (const resource of resources) {
    const row = transformOne(transformer, variant, resource, rest)
    if (row === SLOW) return SLOW
    rows.push(row)
  }
  return rows
}

/**
 * What the framework's serializer would produce, or SLOW when it must be
 * asked.
 */
function direct(values: unknown): unknown {
  if (tracingChannels.transformerResolver.hasSubscribers) return SLOW
  if (values instanceof Item || values instanceof Collection) return directTransformed(values)
  if (!isObject(values) || values instanceof Paginator) return SLOW
  const output: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(values)) {
    if (value instanceof Paginator) return SLOW
    if (value instanceof Item || value instanceof Collection) {
      const resolved = directTransformed(value)
      if (resolved === SLOW) return SLOW
      output[key] = resolved
    } else {
      output[key] = value
    }
  }
  return output
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
      const plain = direct(values)
      return plain === SLOW
        ? serializer.serialize(values, this.containerResolver)
        : Promise.resolve(plain)
    })
  }
}
