import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import hash from '@adonisjs/core/services/hash'
import { givenTenant } from '#tests/support/fixtures'
import {
  decodePayload,
  PASSWORD,
  registerTenant,
  setTenantStatus,
  signUpBody,
  uniqueIp,
  uniqueName,
} from '#tests/support/auth'

test.group('Auth / register a store', () => {
  test('creates the tenant, its schema and its owner, and answers a token pair', async ({
    client,
    assert,
  }) => {
    const body = signUpBody()
    const response = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json(body)

    response.assertStatus(201)
    const { access, refresh, user, tenant } = response.body()
    assert.deepEqual(user, {
      id: user.id,
      username: body.username,
      email: body.email,
      role: 'owner',
    })
    assert.deepEqual(Object.keys(tenant).sort(), ['id', 'name', 'slug'])
    assert.equal(tenant.name, body.store_name)
    assert.isString(refresh)
    assert.isAtLeast(refresh.length, 40)

    const claims = decodePayload(access)
    assert.equal(claims.sub, String(user.id))
    assert.equal(claims.tenant_id, tenant.id)
    assert.equal(claims.role, 'owner')
    assert.equal(claims.token_type, 'access')
    assert.isString(claims.jti)
    assert.equal(claims.exp - claims.iat, 15 * 60)

    const schema = await db.rawQuery(
      `select count(*)::int as tables from information_schema.tables where table_schema = ?`,
      [`tenant_${tenant.id}`]
    )
    assert.isAbove(schema.rows[0].tables, 5)

    const stored = await db.from('public.users').where('id', user.id).firstOrFail()
    assert.notEqual(stored.password, body.password)
    assert.isTrue(await hash.verify(stored.password, body.password))

    const tokens = await db.from('public.refresh_tokens').select('token_hash')
    assert.notInclude(
      tokens.map((row) => row.token_hash.toString('utf8')),
      refresh,
      'the refresh token is stored only as a hash'
    )

    const me = await client.get('/api/auth/me/').bearerToken(access)
    me.assertStatus(200)
  })

  test('answers with and without the trailing slash', async ({ client }) => {
    const response = await client
      .post('/api/auth/register')
      .header('x-forwarded-for', uniqueIp())
      .json(signUpBody())
    response.assertStatus(201)
  })

  test('409 naming {field} when it is taken (case-insensitively)', async ({ client, assert }) => {
    const first = await registerTenant(client)
    const taken = {
      username: { username: first.user.username.toUpperCase() },
      email: { email: first.user.email.toUpperCase() },
      store_name: { store_name: first.tenant.name.toUpperCase() },
    }
    for (const [field, overrides] of Object.entries(taken)) {
      const before = await db.from('public.tenants').count('* as total')
      const response = await client
        .post('/api/auth/register/')
        .header('x-forwarded-for', uniqueIp())
        .json(signUpBody(overrides))
      response.assertStatus(409)
      assert.equal(response.body().errors[0].code, 'E_CONFLICT')
      assert.equal(response.body().errors[0].field, field)
      const after = await db.from('public.tenants').count('* as total')
      assert.equal(after[0].total, before[0].total, 'nothing of the sign-up remains')
    }
  })

  test('422 with one entry per failing field', async ({ client, assert }) => {
    const response = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json({ username: 'a b', email: 'not-an-email', password: 'short', store_name: '' })
    response.assertStatus(422)
    const fields = response.body().errors.map((error: any) => error.field)
    assert.sameMembers(fields, ['username', 'email', 'password', 'store_name'])
    for (const error of response.body().errors) assert.equal(error.code, 'E_VALIDATION_ERROR')
  })

  test('422 for a missing body and for over-long values', async ({ client, assert }) => {
    const empty = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json({})
    empty.assertStatus(422)
    assert.sameMembers(
      empty.body().errors.map((error: any) => error.field),
      ['username', 'email', 'password', 'store_name']
    )

    const long = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json(signUpBody({ password: 'x'.repeat(129), store_name: 'S'.repeat(201) }))
    long.assertStatus(422)
    assert.sameMembers(
      long.body().errors.map((error: any) => error.field),
      ['password', 'store_name']
    )
  })
})

test.group('Auth / register: hostile input', () => {
  test('NUL bytes and control characters are 422, never a database error', async ({
    client,
    assert,
  }) => {
    const response = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json(signUpBody({ store_name: 'Bad\u0000Store', email: 'a\u0000b@example.com' }))
    response.assertStatus(422)
    assert.sameMembers(
      response.body().errors.map((error: any) => error.field),
      ['store_name', 'email']
    )

    const username = uniqueName('customer')
    const customer = await client
      .post('/api/auth/register/customer/')
      .header('x-forwarded-for', uniqueIp())
      .json({ store: 'x\u0000y', username, email: `${username}@example.com`, password: PASSWORD })
    customer.assertStatus(422)
    assert.equal(customer.body().errors[0].field, 'store')
  })
})

test.group('Auth / register a customer', () => {
  test('by store slug and by store id (number or numeric string)', async ({ client, assert }) => {
    const tenant = await givenTenant()
    for (const store of [tenant.slug, tenant.id, String(tenant.id)]) {
      const username = uniqueName('customer')
      const response = await client
        .post('/api/auth/register/customer/')
        .header('x-forwarded-for', uniqueIp())
        .json({ store, username, email: `${username}@example.com`, password: PASSWORD })
      response.assertStatus(201)
      const body = response.body()
      assert.equal(body.user.role, 'customer')
      assert.equal(body.user.username, username)
      assert.deepEqual(body.tenant, { id: tenant.id, name: tenant.name, slug: tenant.slug })
      assert.equal(decodePayload(body.access).tenant_id, tenant.id)

      const me = await client.get('/api/auth/me/').bearerToken(body.access)
      me.assertStatus(200)
      assert.equal(me.body().user.role, 'customer')
    }
  })

  test('404 for an unknown store', async ({ client, assert }) => {
    for (const store of ['no-such-store-anywhere', 999_999_999]) {
      const username = uniqueName('customer')
      const response = await client
        .post('/api/auth/register/customer/')
        .header('x-forwarded-for', uniqueIp())
        .json({ store, username, email: `${username}@example.com`, password: PASSWORD })
      response.assertStatus(404)
      assert.equal(response.body().errors[0].code, 'E_NOT_FOUND')
    }
  })

  test('403 E_TENANT_SUSPENDED for a suspended store', async ({ client, assert }) => {
    const tenant = await givenTenant()
    await setTenantStatus(tenant.id, 'suspended')
    const username = uniqueName('customer')
    const response = await client
      .post('/api/auth/register/customer/')
      .header('x-forwarded-for', uniqueIp())
      .json({ store: tenant.slug, username, email: `${username}@example.com`, password: PASSWORD })
    response.assertStatus(403)
    assert.equal(response.body().errors[0].code, 'E_TENANT_SUSPENDED')
    assert.isNull(await db.from('public.users').where('username', username).first())
  })

  test('409 when the username or email is taken on any store', async ({ client, assert }) => {
    const other = await givenTenant()
    const tenant = await givenTenant()
    for (const [field, value] of [
      ['username', other.owner.username.toUpperCase()],
      ['email', other.owner.email],
    ]) {
      const username = uniqueName('customer')
      const response = await client
        .post('/api/auth/register/customer/')
        .header('x-forwarded-for', uniqueIp())
        .json({
          store: tenant.slug,
          username,
          email: `${username}@example.com`,
          password: PASSWORD,
          [field]: value,
        })
      response.assertStatus(409)
      assert.equal(response.body().errors[0].field, field)
    }
  })

  test('422 with one entry per failing field', async ({ client, assert }) => {
    const response = await client
      .post('/api/auth/register/customer/')
      .header('x-forwarded-for', uniqueIp())
      .json({ store: '', username: 'x', email: 'nope', password: '1234567' })
    response.assertStatus(422)
    assert.sameMembers(
      response.body().errors.map((error: any) => error.field),
      ['store', 'username', 'email', 'password']
    )
  })
})

test.group('Auth / register races', () => {
  test('concurrent sign-ups of one store name: one 201, the rest 409 on store_name', async ({
    client,
    assert,
  }) => {
    const storeName = uniqueName('Race Store')
    const responses = await Promise.all(
      [1, 2, 3].map(() =>
        client
          .post('/api/auth/register/')
          .header('x-forwarded-for', uniqueIp())
          .json(signUpBody({ store_name: storeName }))
      )
    )
    const statuses = responses.map((response) => response.status()).sort()
    assert.deepEqual(statuses, [201, 409, 409])
    for (const response of responses.filter((r) => r.status() === 409)) {
      assert.equal(response.body().errors[0].field, 'store_name')
    }
    const tenants = await db.from('public.tenants').whereRaw('lower(name) = lower(?)', [storeName])
    assert.lengthOf(tenants, 1)
  })
})
