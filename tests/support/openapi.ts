import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { ApiResponse } from '@japa/api-client'

/**
 * Contract checks: every response the tests receive is held to
 * docs/openapi.yaml. The operation is found by method and path template,
 * its status must be documented, and the JSON body must validate against
 * the documented schema (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1).
 */

export const OPENAPI_FILE = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url))

const DOCUMENT_ID = 'urn:tenant-commerce:openapi'
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

/**
 * What the checker needs to know of a response.
 */
export interface ObservedResponse {
  method: string
  /** Path, optionally with a query string or as a full URL. */
  url: string
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The parsed JSON body; ignored unless the media type is JSON. */
  body?: unknown
  /** Whether any body was sent (tells an empty body from `{}`). */
  hasBody: boolean
  /** The body as text, for messages. */
  text?: string
}

export interface MatchedOperation {
  method: string
  template: string
  operationId: string
  params: Record<string, string>
}

interface Route {
  method: string
  template: string
  pattern: RegExp
  paramNames: string[]
  literalSegments: number
  operationId: string
  pointer: string
}

type Json = any

/**
 * Points `#/components/schemas/X` at the shared schema holding every
 * component schema (`<id>#/$defs/X`), so a schema compiled on its own
 * resolves them.
 */
function localRefs(schema: Json): Json {
  const text = JSON.stringify(schema)
  const other = /"\$ref":"(?!#\/components\/schemas\/)[^"]*"/.exec(text)
  if (other) throw new Error(`Unsupported $ref in a schema: ${other[0]}`)
  return JSON.parse(
    text.replaceAll('"$ref":"#/components/schemas/', `"$ref":"${DOCUMENT_ID}#/$defs/`)
  )
}

function escapePointer(segment: string) {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1')
}

function unescapePointer(segment: string) {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~')
}

function normalisePath(url: string) {
  const { pathname } = new URL(url, 'http://contract.invalid')
  return pathname.length > 1 ? pathname.replace(/\/+$/, '') || '/' : pathname
}

function mediaTypeOf(value: string | string[] | undefined) {
  const header = Array.isArray(value) ? value[0] : value
  return (header ?? '').split(';')[0].trim().toLowerCase()
}

function isJson(mediaType: string) {
  return mediaType === 'application/json' || mediaType.endsWith('+json')
}

function formatErrors(errors: ErrorObject[] | null | undefined, prefix = 'body') {
  return (errors ?? []).map((error) => {
    const where = `${prefix}${error.instancePath}`
    const extra =
      error.keyword === 'additionalProperties'
        ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
        : error.keyword === 'enum'
          ? ` ${JSON.stringify((error.params as { allowedValues: unknown }).allowedValues)}`
          : error.keyword === 'const'
            ? ` ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`
            : ''
    return `${where}: ${error.message}${extra}`
  })
}

function preview(value: unknown, limit = 600) {
  let text: string
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value)
  } catch {
    text = String(value)
  }
  if (text === undefined) return '(none)'
  return text.length > limit ? `${text.slice(0, limit)}… (${text.length} chars)` : text
}

export class OpenApiContract {
  readonly document: Json
  readonly #routes: Route[] = []
  readonly #ajv: Ajv2020
  readonly #validators = new Map<string, ValidateFunction>()

  constructor(document: Json) {
    if (typeof document?.openapi !== 'string' || !document.openapi.startsWith('3.1.')) {
      throw new Error(`Expected an OpenAPI 3.1 document, got openapi: ${document?.openapi}`)
    }
    this.document = document
    this.#ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictTypes: false,
      strictRequired: false,
    })
    addFormats.default(this.#ajv)
    this.#ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs'])
    this.#ajv.addSchema({ $id: DOCUMENT_ID, $defs: localRefs(document.components?.schemas ?? {}) })

    for (const [template, pathItem] of Object.entries<Json>(document.paths ?? {})) {
      const paramNames: string[] = []
      const source = template
        .split('/')
        .map((segment) => {
          const param = /^\{([^}]+)\}$/.exec(segment)
          if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          paramNames.push(param[1])
          return '([^/]+)'
        })
        .join('/')
      for (const method of METHODS) {
        const operation = pathItem[method]
        if (!operation) continue
        this.#routes.push({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          paramNames,
          literalSegments: template.split('/').length - paramNames.length,
          operationId: operation.operationId ?? `${method.toUpperCase()} ${template}`,
          pointer: `/paths/${escapePointer(template)}/${method}`,
        })
      }
    }
    // Literal paths win over templated ones (`/a/b` before `/a/{id}`).
    this.#routes.sort((a, b) => b.literalSegments - a.literalSegments)

    this.#compileAll()
  }

  static fromFile(file = OPENAPI_FILE) {
    return new OpenApiContract(parse(readFileSync(file, 'utf8')))
  }

  /**
   * The value at a JSON pointer of the document (`/paths/~1api~1x/get`).
   */
  at(pointer: string): Json {
    let node = this.document
    for (const segment of pointer.split('/').slice(1)) {
      node = node?.[unescapePointer(segment)]
      if (node === undefined) throw new Error(`Nothing at ${pointer} in the OpenAPI document`)
    }
    return node
  }

  /**
   * Follows `$ref`s inside the document; answers the pointer of the target.
   */
  #follow(pointer: string): string {
    const seen = new Set<string>()
    let current = pointer
    while (true) {
      const node = this.at(current)
      if (typeof node?.$ref !== 'string') return current
      if (!node.$ref.startsWith('#/'))
        throw new Error(`Only local $refs are supported: ${node.$ref}`)
      if (seen.has(current)) throw new Error(`$ref cycle at ${current}`)
      seen.add(current)
      current = node.$ref.slice(1)
    }
  }

  /**
   * Validates the data against the schema at the pointer; `$ref`s into
   * components resolve against the whole document.
   */
  #validator(pointer: string) {
    let validate = this.#validators.get(pointer)
    if (!validate) {
      validate = this.#ajv.compile(localRefs(this.at(pointer)))
      this.#validators.set(pointer, validate)
    }
    return validate
  }

  /**
   * Compiles every response schema up front: a broken `$ref` or a typo in a
   * keyword fails at load, not in the middle of a test.
   */
  #compileAll() {
    this.#validator('/components/schemas/Error')
    for (const route of this.#routes) {
      const responses = this.at(route.pointer).responses ?? {}
      for (const status of Object.keys(responses)) {
        const responsePointer = this.#follow(`${route.pointer}/responses/${escapePointer(status)}`)
        const response = this.at(responsePointer)
        for (const mediaType of Object.keys(response.content ?? {})) {
          if (response.content[mediaType].schema !== undefined) {
            this.#validator(`${responsePointer}/content/${escapePointer(mediaType)}/schema`)
          }
        }
        for (const name of Object.keys(response.headers ?? {})) {
          const headerPointer = this.#follow(`${responsePointer}/headers/${escapePointer(name)}`)
          if (this.at(headerPointer).schema !== undefined)
            this.#validator(`${headerPointer}/schema`)
        }
      }
    }
  }

  /**
   * Every documented operation, as `METHOD /template`.
   */
  operations() {
    return this.#routes.map((route) => `${route.method} ${route.template}`)
  }

  /**
   * The documented operation serving this method and path (trailing slash
   * and query string ignored); HEAD is served by GET.
   */
  findOperation(method: string, url: string): MatchedOperation | undefined {
    const path = normalisePath(url)
    const wanted = method.toUpperCase()
    for (const candidate of wanted === 'HEAD' ? ['HEAD', 'GET'] : [wanted]) {
      for (const route of this.#routes) {
        if (route.method !== candidate) continue
        const match = route.pattern.exec(path)
        if (!match) continue
        const params: Record<string, string> = {}
        route.paramNames.forEach(
          (name, index) => (params[name] = decodeURIComponent(match[index + 1]))
        )
        return {
          method: route.method,
          template: route.template,
          operationId: route.operationId,
          params,
        }
      }
    }
    return undefined
  }

  /**
   * Every way the response departs from the document; empty when it conforms.
   */
  problems(response: ObservedResponse): string[] {
    const method = response.method.toUpperCase()
    const operation = this.findOperation(method, response.url)
    const mediaType = mediaTypeOf(response.headers['content-type'])

    if (!operation) {
      // An undocumented route may only be the router's 404, in the error shape.
      if (response.status !== 404) {
        return [
          `${method} ${normalisePath(response.url)} is not documented; only a 404 may answer it`,
        ]
      }
      return isJson(mediaType)
        ? formatErrors(this.#check('/components/schemas/Error', response.body))
        : [`a 404 must be JSON in the error shape, got content-type "${mediaType}"`]
    }

    const route = this.#routes.find(
      (candidate) =>
        candidate.method === operation.method && candidate.template === operation.template
    )!
    const responses = this.at(route.pointer).responses ?? {}
    const status = String(response.status)
    const key = [status, `${status[0]}XX`, `${status[0]}xx`, 'default'].find((k) => k in responses)
    if (!key) {
      return [
        `status ${status} is not documented for ${operation.operationId} (documented: ${Object.keys(responses).join(', ')})`,
      ]
    }

    const problems: string[] = []
    const responsePointer = this.#follow(`${route.pointer}/responses/${escapePointer(key)}`)
    const documented = this.at(responsePointer)

    for (const [name, header] of Object.entries<Json>(documented.headers ?? {})) {
      const headerPointer = this.#follow(`${responsePointer}/headers/${escapePointer(name)}`)
      const definition = this.at(headerPointer)
      const raw = response.headers[name.toLowerCase()]
      const value = Array.isArray(raw) ? raw.join(', ') : raw
      if (value === undefined) {
        if (definition.required ?? header.required) problems.push(`header ${name} is missing`)
        continue
      }
      if (definition.schema !== undefined) {
        problems.push(
          ...formatErrors(this.#check(`${headerPointer}/schema`, value), `header ${name}`)
        )
      }
    }

    const content = documented.content ?? {}
    if (Object.keys(content).length === 0) {
      if (response.hasBody) {
        problems.push(`status ${status} is documented without a body, but one was sent`)
      }
      return problems
    }
    if (!response.hasBody) {
      problems.push(`status ${status} is documented with a body, but none was sent`)
      return problems
    }

    const documentedType = Object.keys(content).find((type) => type.toLowerCase() === mediaType)
    if (!documentedType) {
      problems.push(
        `content-type "${mediaType}" is not documented for status ${status} (documented: ${Object.keys(content).join(', ')})`
      )
      return problems
    }
    if (isJson(mediaType) && content[documentedType].schema !== undefined) {
      problems.push(
        ...formatErrors(
          this.#check(
            `${responsePointer}/content/${escapePointer(documentedType)}/schema`,
            response.body
          )
        )
      )
    }
    return problems
  }

  #check(pointer: string, data: unknown) {
    const validate = this.#validator(pointer)
    return validate(data) ? [] : (validate.errors ?? [])
  }

  /**
   * Throws an error naming the request, the status and every mismatch.
   */
  assertConforms(response: ObservedResponse) {
    const problems = this.problems(response)
    if (problems.length === 0) return
    const operation = this.findOperation(response.method, response.url)
    throw new ContractViolation(
      [
        `Response does not match docs/openapi.yaml: ${response.method.toUpperCase()} ${response.url} → ${response.status}` +
          (operation
            ? ` (operation ${operation.operationId}, ${operation.method} ${operation.template})`
            : ''),
        ...problems.map((problem) => `  - ${problem}`),
        `  body: ${preview(response.body !== undefined && isJson(mediaTypeOf(response.headers['content-type'])) ? response.body : response.text)}`,
      ].join('\n')
    )
  }
}

export class ContractViolation extends Error {
  name = 'ContractViolation'
}

let shared: OpenApiContract | undefined

/**
 * The document, parsed and compiled once per test run.
 */
export function contract() {
  shared ??= OpenApiContract.fromFile()
  return shared
}

/**
 * What the checker needs of a Japa API client response.
 */
export function observed(response: ApiResponse): ObservedResponse {
  const mediaType = mediaTypeOf(response.header('content-type'))
  const raw = response.response as { text?: string; body?: unknown }
  const text = typeof raw.text === 'string' ? raw.text : undefined
  const hasBody =
    (text !== undefined && text !== '') || (Buffer.isBuffer(raw.body) && raw.body.length > 0)
  return {
    method: response.request.config.method,
    url: response.request.config.endpoint,
    status: response.status(),
    headers: response.headers(),
    body: isJson(mediaType) && hasBody ? response.body() : undefined,
    hasBody,
    text,
  }
}

/**
 * The Japa API client hook: fails the request (and so the test) when the
 * response departs from the document.
 */
export function assertResponseMatchesContract(response: ApiResponse) {
  contract().assertConforms(observed(response))
}
