import { execFile } from 'node:child_process'
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { test } from '@japa/runner'
import openapiTS, { astToString } from 'openapi-typescript'
import env from '#start/env'
import { OPENAPI_FILE } from '#tests/support/openapi'
import { signUpBody } from '#tests/support/auth'

/**
 * Client generators take docs/openapi.yaml as it is: openapi-typescript
 * generates its types, a small typed client (tests/typed_client) compiles
 * against them with tsc, calls the typed client must refuse do not compile,
 * and the compiled client talks to the API.
 */
const ROOT = new URL('../../', import.meta.url)
const SOURCES = new URL('tests/typed_client/', ROOT)
const OUT = new URL('tmp/typed_client/', ROOT)
const TSC = fileURLToPath(new URL('node_modules/typescript/bin/tsc', ROOT))

async function generateAndCompile() {
  await rm(OUT, { recursive: true, force: true })
  await mkdir(OUT, { recursive: true })
  const ast = await openapiTS(pathToFileURL(OPENAPI_FILE), { silent: true })
  await writeFile(new URL('api.d.ts', OUT), astToString(ast))
  for (const file of ['client.ts', 'misuse.ts']) {
    await copyFile(new URL(file, SOURCES), new URL(file, OUT))
  }
  await writeFile(
    new URL('tsconfig.json', OUT),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        exactOptionalPropertyTypes: false,
        noUncheckedIndexedAccess: false,
        lib: ['es2022', 'dom'],
        types: [],
        outDir: 'out',
      },
      files: ['api.d.ts', 'client.ts', 'misuse.ts'],
    })
  )
  await writeFile(new URL('package.json', OUT), JSON.stringify({ type: 'module' }))
  return compile()
}

function compile() {
  return promisify(execFile)(process.execPath, [TSC, '-p', fileURLToPath(OUT)], {
    cwd: fileURLToPath(OUT),
  }).then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    })
  )
}

test.group('Typed client generated from docs/openapi.yaml', (group) => {
  let compiled: { code: number; output: string }
  group.setup(async () => {
    compiled = await generateAndCompile()
  })

  test('openapi-typescript types compile a client that refuses undocumented calls and talks to the API', async ({
    assert,
  }) => {
    assert.equal(compiled.code, 0, compiled.output)

    const { TypedClient, ApiError } = await import(
      pathToFileURL(fileURLToPath(new URL('out/client.js', OUT))).href
    )
    const client = new TypedClient(`http://${env.get('HOST')}:${env.get('PORT')}`)

    const signUp = await client.request('post', '/api/auth/register', { body: signUpBody() })
    assert.equal(signUp.user.role, 'owner')
    client.token = signUp.access

    const created = await client.request('post', '/api/products', {
      body: { name: 'Typed lamp', sku: 'TYPED-1', price: '12.50', stock: 3 },
    })
    assert.equal(created.price, '12.50')

    const page = await client.request('get', '/api/products', {
      query: { search: 'typed', ordering: '-price' },
    })
    assert.deepEqual(
      page.data.map((product: { id: number }) => product.id),
      [created.id]
    )
    const one = await client.request('get', '/api/products/{id}', { params: { id: created.id } })
    assert.equal(one.sku, 'TYPED-1')

    const failure = await client
      .request('get', '/api/products/{id}', { params: { id: created.id + 1000 } })
      .catch((error: unknown) => error)
    assert.instanceOf(failure, ApiError)
    assert.equal(failure.status, 404)
  }).timeout(90_000)

  test('a call the document does not allow is a compile error', async ({ assert }) => {
    // misuse.ts marks each refused call with @ts-expect-error; without one
    // of them the call must fail to compile.
    assert.equal(compiled.code, 0, compiled.output)
    const misuse = new URL('misuse.ts', OUT)
    const source = await readFile(misuse, 'utf8')
    await writeFile(misuse, source.replace('// @ts-expect-error: an undocumented path', ''))
    const result = await compile()
    assert.notEqual(result.code, 0)
    assert.include(result.output, '/api/nowhere')
  }).timeout(90_000)
})
