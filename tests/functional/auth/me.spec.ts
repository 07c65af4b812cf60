import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser } from '#tests/support/fixtures'

test.group('Auth / me', () => {
  test('{user, tenant} of the caller, for every role', async ({ client, assert }) => {
    const tenant = await givenTenant()
    for (const user of [
      tenant.owner,
      await givenUser(tenant, 'staff'),
      await givenUser(tenant, 'customer'),
    ]) {
      const response = await client.get('/api/auth/me/').bearerToken(user.token)
      response.assertStatus(200)
      assert.deepEqual(response.body(), {
        user: { id: user.id, username: user.username, email: user.email, role: user.role },
        tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
      })
    }
  })

  test('the role comes from the database, not from the token', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    await db.from('public.users').where('id', staff.id).update({ role: 'customer' })
    const response = await client.get('/api/auth/me').bearerToken(staff.token)
    response.assertStatus(200)
    assert.equal(response.body().user.role, 'customer')
  })
})
