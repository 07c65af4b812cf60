/**
 * A small API client typed by the types openapi-typescript generates from
 * docs/openapi.yaml (`./api.js`, generated next to this file by
 * tests/functional/typed_client.spec.ts, which then compiles it with tsc
 * and runs it against the API). Paths, methods, query strings, bodies and
 * answers all come from the document: a client generator sees what this
 * client sees.
 */
import type { paths } from './api.js'

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'

/** The methods a path documents. */
type MethodOf<P extends keyof paths> = {
  [M in Method]: paths[P][M] extends undefined ? never : M
}[Method]

/** The operation of a path and method. */
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never

type RequestBody<O> = O extends { requestBody: infer Body }
  ? JsonContent<Body>
  : O extends { requestBody?: infer Body }
    ? JsonContent<NonNullable<Body>>
    : never

type QueryOf<O> = O extends { parameters: { query?: infer Query } } ? NonNullable<Query> : never
type PathParamsOf<O> = O extends { parameters: { path: infer Params } } ? Params : never

/** The JSON body of the operation's 2xx answers. */
export type Success<O> = O extends { responses: infer Responses }
  ? {
      [Status in keyof Responses]: Status extends 200 | 201 | 202
        ? JsonContent<Responses[Status]>
        : never
    }[keyof Responses]
  : never

export type RequestOptions<O> = ([RequestBody<O>] extends [never]
  ? { body?: never }
  : { body: RequestBody<O> }) &
  ([QueryOf<O>] extends [never] ? { query?: never } : { query?: QueryOf<O> }) &
  ([PathParamsOf<O>] extends [never] ? { params?: never } : { params: PathParamsOf<O> })

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`)
  }
}

export class TypedClient {
  constructor(
    readonly baseUrl: string,
    public token?: string
  ) {}

  async request<P extends keyof paths, M extends MethodOf<P>>(
    method: M,
    path: P,
    options: RequestOptions<Operation<P, M>>
  ): Promise<Success<Operation<P, M>>> {
    const { body, query, params } = options as {
      body?: unknown
      query?: Record<string, string | number | boolean | undefined>
      params?: Record<string, string | number>
    }
    let url = String(path).replace(/\{([^}]+)\}/g, (_, name: string) =>
      encodeURIComponent(String(params?.[name]))
    )
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(key, String(value))
    }
    if (search.size > 0) url += `?${search}`

    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.token) headers.authorization = `Bearer ${this.token}`
    const response = await fetch(new URL(url, this.baseUrl), {
      method: method.toUpperCase(),
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    const parsed: unknown = text ? JSON.parse(text) : undefined
    if (!response.ok) throw new ApiError(response.status, parsed)
    return parsed as Success<Operation<P, M>>
  }
}
