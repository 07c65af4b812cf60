import { test } from '@japa/runner'

/**
 * Every error has the contract's shape, whatever produced it.
 */
function assertErrorShape(assert: any, body: any, code?: string) {
  assert.isArray(body.errors)
  assert.isAbove(body.errors.length, 0)
  for (const error of body.errors) {
    assert.isString(error.message)
    assert.match(error.code, /^E_[A-Z0-9_]+$/)
  }
  if (code) assert.equal(body.errors[0].code, code)
}

test.group('Errors', () => {
  test('unknown route answers 404 in the error shape', async ({ client, assert }) => {
    const response = await client.get('/api/nothing-here/')
    response.assertStatus(404)
    assertErrorShape(assert, response.body(), 'E_ROUTE_NOT_FOUND')
  })

  test('the request id is returned, and an incoming one is kept', async ({ client, assert }) => {
    const response = await client.get('/health/live').header('x-request-id', 'abc-123')
    response.assertStatus(200)
    assert.equal(response.header('x-request-id'), 'abc-123')
  })

  test('malformed JSON answers 400 in the error shape', async ({ client, assert }) => {
    const response = await client
      .post('/api/auth/login/')
      .unsafeJson('{"username": "a", "password": ')
    response.assertStatus(400)
    assertErrorShape(assert, response.body(), 'E_BAD_REQUEST')
    assert.equal(response.body().errors[0].message, 'Malformed JSON in request body')
  })

  test('a body over the 256 kb limit answers 413', async ({ client, assert }) => {
    const response = await client
      .post('/api/auth/login/')
      .json({ username: 'someone', password: 'x'.repeat(300 * 1024) })
    response.assertStatus(413)
    assertErrorShape(assert, response.body(), 'E_REQUEST_ENTITY_TOO_LARGE')
  })
})
