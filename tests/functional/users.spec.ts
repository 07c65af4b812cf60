import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import hash from '@adonisjs/core/services/hash'
import { givenTenant, givenUser, type GivenTenant } from '#tests/support/fixtures'
import { login, PASSWORD, uniqueName } from '#tests/support/auth'
import { expectStatus } from '#tests/support/http'

function newUser(role = 'staff') {
  const username = uniqueName(role)
  return { username, email: `${username}@example.com`, password: PASSWORD, role }
}

async function addUser(client: any, tenant: GivenTenant, role = 'staff') {
  const response = await client
    .post('/api/users/')
    .bearerToken(tenant.owner.token)
    .json(newUser(role))
  response.assertStatus(201)
  return response.body()
}

test.group('Users / list', () => {
  test("paginated users of the caller's tenant only, with ?role=", async ({ client, assert }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    await givenUser(other, 'staff')
    const staff = await givenUser(tenant, 'staff')
    const customers = [await givenUser(tenant, 'customer'), await givenUser(tenant, 'customer')]

    const all = await client.get('/api/users/').bearerToken(tenant.owner.token)
    all.assertStatus(200)
    assert.deepEqual(all.body().meta, { total: 4, per_page: 20, current_page: 1, last_page: 1 })
    assert.deepEqual(
      all.body().data.map((user: any) => user.id),
      [tenant.owner.id, staff.id, ...customers.map((c) => c.id)]
    )
    const first = all.body().data[0]
    assert.deepEqual(Object.keys(first).sort(), [
      'created_at',
      'email',
      'id',
      'is_active',
      'role',
      'updated_at',
      'username',
    ])
    assert.notProperty(first, 'password')

    const filtered = await client
      .get('/api/users/')
      .qs({ role: 'customer', per_page: 1, page: 2 })
      .bearerToken(tenant.owner.token)
    filtered.assertStatus(200)
    assert.deepEqual(filtered.body().meta, {
      total: 2,
      per_page: 1,
      current_page: 2,
      last_page: 2,
    })
    assert.equal(filtered.body().data[0].id, customers[1].id)
  })

  test('422 for an unknown role or a bad page', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const response = await client
      .get('/api/users/')
      .qs({ role: 'admin', per_page: 101 })
      .bearerToken(tenant.owner.token)
    response.assertStatus(422)
    assert.sameMembers(
      response.body().errors.map((error: any) => error.field),
      ['role', 'per_page']
    )
  })
})

test.group('Users / create', () => {
  test('201 user; the user can log in', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const body = newUser('customer')
    const response = await client.post('/api/users').bearerToken(tenant.owner.token).json(body)
    response.assertStatus(201)
    const user = response.body()
    assert.equal(user.username, body.username)
    assert.equal(user.email, body.email)
    assert.equal(user.role, 'customer')
    assert.isTrue(user.is_active)

    const stored = await db.from('public.users').where('id', user.id).firstOrFail()
    assert.equal(stored.tenant_id, tenant.id)
    assert.isTrue(await hash.verify(stored.password, PASSWORD))

    const session = await login(client, body.username, PASSWORD)
    session.assertStatus(200)
    assert.equal(session.body().tenant.id, tenant.id)
  })

  test('409 for a username or email taken on any store', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    for (const [field, value] of [
      ['username', other.owner.username.toUpperCase()],
      ['email', other.owner.email.toUpperCase()],
    ]) {
      const response = await client
        .post('/api/users/')
        .bearerToken(tenant.owner.token)
        .json({ ...newUser(), [field]: value })
      response.assertStatus(409)
      assert.equal(response.body().errors[0].field, field)
    }
  })

  test('422 with one entry per failing field; role owner is refused', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const response = await client
      .post('/api/users/')
      .bearerToken(tenant.owner.token)
      .json({ username: 'no spaces allowed', email: 'x@', password: 'short', role: 'owner' })
    response.assertStatus(422)
    assert.sameMembers(
      response.body().errors.map((error: any) => error.field),
      ['username', 'email', 'password', 'role']
    )
  })
})

test.group('Users / show, update, delete', () => {
  test('GET one user of the tenant', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const response = await client.get(`/api/users/${staff.id}/`).bearerToken(tenant.owner.token)
    response.assertStatus(200)
    assert.equal(response.body().id, staff.id)
    assert.equal(response.body().username, staff.username)
  })

  test('a user of another tenant is 404 on GET, PATCH and DELETE', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    const stranger = await givenUser(other, 'staff')
    const url = `/api/users/${stranger.id}/`
    await expectStatus(client.get(url).bearerToken(tenant.owner.token), 404)
    await expectStatus(
      client.patch(url).bearerToken(tenant.owner.token).json({ is_active: false }),
      404
    )
    await expectStatus(client.delete(url).bearerToken(tenant.owner.token), 404)
    await expectStatus(client.get('/api/users/999999999/').bearerToken(tenant.owner.token), 404)
    await expectStatus(client.get('/api/users/abc/').bearerToken(tenant.owner.token), 404)

    const row = await db.from('public.users').where('id', stranger.id).firstOrFail()
    assert.isTrue(row.is_active)
  })

  test('PATCH email, role, is_active and password', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const user = await addUser(client, tenant, 'staff')
    const session = await login(client, user.username, PASSWORD)
    session.assertStatus(200)

    const email = `${uniqueName('new')}@example.com`
    const response = await client
      .patch(`/api/users/${user.id}/`)
      .bearerToken(tenant.owner.token)
      .json({ email, role: 'customer', password: 'a new password' })
    response.assertStatus(200)
    assert.equal(response.body().email, email)
    assert.equal(response.body().role, 'customer')

    // A new password ends the user's logins.
    await expectStatus(client.get('/api/auth/me/').bearerToken(session.body().access), 401)
    await expectStatus(login(client, user.username, PASSWORD), 401)
    await expectStatus(login(client, user.username, 'a new password'), 200)

    const deactivated = await client
      .patch(`/api/users/${user.id}`)
      .bearerToken(tenant.owner.token)
      .json({ is_active: false })
    deactivated.assertStatus(200)
    assert.isFalse(deactivated.body().is_active)
    await expectStatus(login(client, user.username, 'a new password'), 401)

    const unchanged = await client
      .patch(`/api/users/${user.id}`)
      .bearerToken(tenant.owner.token)
      .json({})
    unchanged.assertStatus(200)
    assert.equal(unchanged.body().email, email)
  })

  test('PATCH 409 for an email taken elsewhere; 422 per failing field', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const taken = await client
      .patch(`/api/users/${staff.id}/`)
      .bearerToken(tenant.owner.token)
      .json({ email: other.owner.email })
    taken.assertStatus(409)
    assert.equal(taken.body().errors[0].field, 'email')

    const invalid = await client
      .patch(`/api/users/${staff.id}/`)
      .bearerToken(tenant.owner.token)
      .json({ email: 'nope', password: 'short', role: 'owner', is_active: 'yes' })
    invalid.assertStatus(422)
    assert.sameMembers(
      invalid.body().errors.map((error: any) => error.field),
      ['email', 'password', 'role', 'is_active']
    )
  })

  test('the owner cannot demote, deactivate or delete themself (409)', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const url = `/api/users/${tenant.owner.id}/`
    const demote = await client.patch(url).bearerToken(tenant.owner.token).json({ role: 'staff' })
    demote.assertStatus(409)
    assert.equal(demote.body().errors[0].field, 'role')

    const deactivate = await client
      .patch(url)
      .bearerToken(tenant.owner.token)
      .json({ is_active: false })
    deactivate.assertStatus(409)
    assert.equal(deactivate.body().errors[0].field, 'is_active')

    await expectStatus(client.delete(url).bearerToken(tenant.owner.token), 409)

    const row = await db.from('public.users').where('id', tenant.owner.id).firstOrFail()
    assert.equal(row.role, 'owner')
    assert.isTrue(row.is_active)

    // Their own email and password they may change, and stay logged in.
    const own = await client
      .patch(url)
      .bearerToken(tenant.owner.token)
      .json({ email: `${uniqueName('owner')}@example.com`, password: 'another password' })
    own.assertStatus(200)
    await expectStatus(client.get('/api/auth/me/').bearerToken(tenant.owner.token), 200)
  })

  test('DELETE 204; the user and their logins are gone', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const response = await client.delete(`/api/users/${staff.id}/`).bearerToken(tenant.owner.token)
    response.assertStatus(204)
    assert.isNull(await db.from('public.users').where('id', staff.id).first())
    await expectStatus(client.get('/api/auth/me/').bearerToken(staff.token), 401)
    await expectStatus(
      client.delete(`/api/users/${staff.id}/`).bearerToken(tenant.owner.token),
      404
    )
  })
})

test.group('Users / roles', () => {
  test('staff and customers get 403 on every users endpoint', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const target = await givenUser(tenant, 'customer')
    for (const role of ['staff', 'customer'] as const) {
      const caller = await givenUser(tenant, role)
      const requests = [
        client.get('/api/users/'),
        client.post('/api/users/').json(newUser()),
        client.get(`/api/users/${target.id}/`),
        client.patch(`/api/users/${target.id}/`).json({ is_active: false }),
        client.delete(`/api/users/${target.id}/`),
      ]
      for (const request of requests) {
        const response = await request.bearerToken(caller.token)
        response.assertStatus(403)
        assert.equal(response.body().errors[0].code, 'E_AUTHORIZATION_FAILURE')
      }
    }
    const row = await db.from('public.users').where('id', target.id).firstOrFail()
    assert.isTrue(row.is_active)
  })

  test('without a token: 401', async ({ client }) => {
    ;(await client.get('/api/users/'), 401)
    await expectStatus(client.post('/api/users/').json(newUser()), 401)
  })
})
