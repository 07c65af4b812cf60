/**
 * Assertions shared by the functional tests.
 */

/**
 * Every error has the contract's shape.
 */
export function assertErrorShape(assert: any, body: any, code?: string) {
  assert.isObject(body)
  assert.isArray(body.errors)
  assert.isAbove(body.errors.length, 0)
  for (const error of body.errors) {
    assert.isString(error.message)
    assert.match(error.code, /^E_[A-Z0-9_]+$/)
    if ('field' in error) assert.isString(error.field)
  }
  if (code) assert.equal(body.errors[0].code, code)
}
