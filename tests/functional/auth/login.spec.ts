import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser, FIXTURE_PASSWORD } from '#tests/support/fixtures'
import { decodePayload, login, registerTenant, setTenantStatus } from '#tests/support/auth'

test.group('Auth / login', () => {
  test('answers a token pair, the user and the tenant', async ({ client, assert }) => {
    const signUp = await registerTenant(client)
    const response = await login(client, signUp.user.username, signUp.password)
    response.assertStatus(200)
    const body = response.body()
    assert.deepEqual(body.user, signUp.user)
    assert.deepEqual(body.tenant, signUp.tenant)
    assert.isString(body.refresh)
    const claims = decodePayload(body.access)
    assert.equal(claims.sub, String(signUp.user.id))
    assert.equal(claims.token_type, 'access')
    assert.notEqual(body.refresh, signUp.refresh)

    const me = await client.get('/api/auth/me/').bearerToken(body.access)
    me.assertStatus(200)
  })

  test('the username is case-insensitive', async ({ client }) => {
    const signUp = await registerTenant(client)
    const response = await login(client, signUp.user.username.toUpperCase(), signUp.password)
    response.assertStatus(200)
  })

  test('unknown user and wrong password: the same 401 and the same message', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    const wrong = await login(client, signUp.user.username, 'wrong password!')
    const unknown = await login(client, 'nobody_by_this_name', signUp.password)
    wrong.assertStatus(401)
    unknown.assertStatus(401)
    assert.deepEqual(wrong.body(), unknown.body())
    assert.equal(wrong.body().errors[0].code, 'E_INVALID_CREDENTIALS')
    assert.notProperty(wrong.body(), 'access')
  })

  test('a name that cannot exist (e.g. with a NUL byte) is the same 401', async ({
    client,
    assert,
  }) => {
    const response = await login(client, 'evil\u0000name', 'whatever12')
    response.assertStatus(401)
    assert.equal(response.body().errors[0].code, 'E_INVALID_CREDENTIALS')
  })

  test('a deactivated user is refused with the same 401', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const user = await givenUser(tenant, 'staff', { isActive: false })
    const response = await login(client, user.username, FIXTURE_PASSWORD)
    response.assertStatus(401)
    assert.equal(response.body().errors[0].code, 'E_INVALID_CREDENTIALS')
  })

  test('a user of a suspended store: 403 E_TENANT_SUSPENDED', async ({ client, assert }) => {
    const tenant = await givenTenant()
    await setTenantStatus(tenant.id, 'suspended')
    const response = await login(client, tenant.owner.username, FIXTURE_PASSWORD)
    response.assertStatus(403)
    assert.equal(response.body().errors[0].code, 'E_TENANT_SUSPENDED')

    const wrong = await login(client, tenant.owner.username, 'not the password')
    wrong.assertStatus(401)
  })

  test('starts a new login session each time', async ({ client, assert }) => {
    const signUp = await registerTenant(client)
    const first = await login(client, signUp.user.username, signUp.password)
    const second = await login(client, signUp.user.username, signUp.password)
    const sessions = await db.from('public.auth_sessions').where('user_id', signUp.user.id)
    assert.lengthOf(sessions, 3)
    assert.notEqual(decodePayload(first.body().access).sid, decodePayload(second.body().access).sid)
  })

  test('422 with one entry per failing field', async ({ client, assert }) => {
    const response = await client.post('/api/auth/login/').json({ username: '', password: 5 })
    response.assertStatus(422)
    assert.sameMembers(
      response.body().errors.map((error: any) => error.field),
      ['username', 'password']
    )
  })
})
