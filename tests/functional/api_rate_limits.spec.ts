import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import { rateLimits } from '#auth/rate_limits'
import { givenTenant, givenUser, type GivenUser } from '#tests/support/fixtures'
import { uniqueName, PASSWORD } from '#tests/support/auth'
import { expectStatus, statusOf } from '#tests/support/http'

/**
 * Authenticated requests are limited per user (RATE_LIMIT_API_USER) and
 * per tenant (RATE_LIMIT_API_TENANT), and the requests that tell whether
 * a username or email exists on the platform per tenant
 * (RATE_LIMIT_USER_ACCOUNTS). The limits are lowered for each test and
 * restored afterwards; every test uses fresh tenants, so counters never
 * leak between tests (and the runner forgets those of earlier runs).
 */
function products(client: ApiClient, user: GivenUser) {
  return client.get('/api/products/').bearerToken(user.token)
}

function newUser() {
  const username = uniqueName('staff')
  return { username, email: `${username}@example.com`, password: PASSWORD, role: 'staff' }
}

async function statuses(requests: Promise<{ status(): number }>[]) {
  const responses = await Promise.all(requests)
  return responses.map((response) => response.status())
}

function count(list: number[], status: number) {
  return list.filter((value) => value === status).length
}

test.group('API rate limits', (group) => {
  group.each.setup(() => {
    const saved = { ...rateLimits }
    return () => {
      Object.assign(rateLimits, saved)
    }
  })

  test('per user: 429 with Retry-After in the error shape; other users go on', async ({
    client,
    assert,
  }) => {
    Object.assign(rateLimits, { apiUser: 3, apiTenant: 0 })
    const tenant = await givenTenant()
    const colleague = await givenUser(tenant, 'staff')
    for (let i = 0; i < 3; i++) await expectStatus(products(client, tenant.owner), 200)

    const limited = await products(client, tenant.owner)
    limited.assertStatus(429)
    assert.deepEqual(limited.body(), {
      errors: [{ message: 'Too many requests, try again later', code: 'E_TOO_MANY_REQUESTS' }],
    })
    const retryAfter = Number(limited.header('retry-after'))
    assert.isAbove(retryAfter, 0)
    assert.isAtMost(retryAfter, 60)

    // Every authenticated route, not only the one that was used up.
    await expectStatus(client.get('/api/auth/me/').bearerToken(tenant.owner.token), 429)
    await expectStatus(products(client, colleague), 200)
  })

  test('per tenant: its users share one budget; other tenants go on', async ({ client }) => {
    Object.assign(rateLimits, { apiUser: 0, apiTenant: 4 })
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const other = await givenTenant()
    for (const user of [tenant.owner, staff, tenant.owner, staff]) {
      await expectStatus(products(client, user), 200)
    }
    await expectStatus(products(client, tenant.owner), 429)
    await expectStatus(products(client, staff), 429)
    await expectStatus(products(client, other.owner), 200)
  })

  test("a request refused for its user does not spend its tenant's budget", async ({
    client,
    assert,
  }) => {
    Object.assign(rateLimits, { apiUser: 2, apiTenant: 4 })
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const flood = await statuses(Array.from({ length: 6 }, () => products(client, tenant.owner)))
    assert.equal(count(flood, 200), 2)
    assert.equal(count(flood, 429), 4)
    await expectStatus(products(client, staff), 200)
    await expectStatus(products(client, staff), 200)
  })

  test('0 switches the per-user and per-tenant limits off', async ({ client, assert }) => {
    Object.assign(rateLimits, { apiUser: 0, apiTenant: 0 })
    const tenant = await givenTenant()
    const all = await statuses(Array.from({ length: 25 }, () => products(client, tenant.owner)))
    assert.equal(count(all, 200), 25)
  })
})

test.group('API rate limits / user accounts', (group) => {
  group.each.setup(() => {
    const saved = { ...rateLimits }
    return () => {
      Object.assign(rateLimits, saved)
    }
  })

  test('creating users and changing emails have a tighter limit of their own', async ({
    client,
  }) => {
    Object.assign(rateLimits, { userAccounts: 2 })
    const tenant = await givenTenant()
    const other = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const owner = tenant.owner.token

    await expectStatus(client.post('/api/users/').bearerToken(owner).json(newUser()), 201)
    const email = `${uniqueName('changed')}@example.com`
    await expectStatus(
      client.patch(`/api/users/${staff.id}/`).bearerToken(owner).json({ email }),
      200
    )

    const created = await client.post('/api/users/').bearerToken(owner).json(newUser())
    created.assertStatus(429)
    created.assertBodyContains({ errors: [{ code: 'E_TOO_MANY_REQUESTS' }] })
    const changed = await client
      .patch(`/api/users/${staff.id}/`)
      .bearerToken(owner)
      .json({ email: `${uniqueName('again')}@example.com` })
    changed.assertStatus(429)

    // Changes that reveal nothing about other accounts, and other tenants, go on.
    await expectStatus(
      client.patch(`/api/users/${staff.id}/`).bearerToken(owner).json({ is_active: false }),
      200
    )
    await expectStatus(client.get('/api/users/').bearerToken(owner), 200)
    await expectStatus(
      client.post('/api/users/').bearerToken(other.owner.token).json(newUser()),
      201
    )
  })

  test("a caller refused with 403 does not spend the owner's budget", async ({ client }) => {
    Object.assign(rateLimits, { userAccounts: 1 })
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    for (let i = 0; i < 3; i++) {
      await expectStatus(client.post('/api/users/').bearerToken(staff.token).json(newUser()), 403)
    }
    await expectStatus(
      client.post('/api/users/').bearerToken(tenant.owner.token).json(newUser()),
      201
    )
  })
})

test.group('API rate limits / one tenant floods', (group) => {
  group.each.setup(() => {
    const saved = { ...rateLimits }
    return () => {
      Object.assign(rateLimits, saved)
    }
  })

  test("another tenant's reads keep succeeding; the limits hit the flooder", async ({
    client,
    assert,
  }) => {
    Object.assign(rateLimits, { apiUser: 15, apiTenant: 25, userAccounts: 3 })
    const flooder = await givenTenant()
    const accomplices = [await givenUser(flooder, 'staff'), await givenUser(flooder, 'customer')]
    const victim = await givenTenant()
    const victimStaff = await givenUser(victim, 'staff')

    // The flooder: 60 reads from three users and 20 hashing-heavy user
    // creations by its owner, all at once.
    const flood = Promise.all([
      statuses(
        Array.from({ length: 60 }, (_, i) =>
          products(client, [flooder.owner, ...accomplices][i % 3])
        )
      ),
      statuses(
        Array.from({ length: 20 }, () =>
          client.post('/api/users/').bearerToken(flooder.owner.token).json(newUser())
        )
      ),
    ])

    // Meanwhile the other tenant reads, one request after the other.
    const victimStatuses: number[] = []
    for (let i = 0; i < 10; i++) {
      const user = i % 2 ? victim.owner : victimStaff
      victimStatuses.push(await statusOf(products(client, user)))
      victimStatuses.push(await statusOf(client.get('/api/users/').bearerToken(victim.owner.token)))
    }
    const [reads, creations] = await flood

    assert.deepEqual(victimStatuses, Array(20).fill(200))
    assert.isAbove(count(reads, 429) + count(creations, 429), 0)
    assert.isAtMost(count([...reads, ...creations], 200) + count(creations, 201), 25)
    assert.isAtMost(count(creations, 201), 3)
    assert.deepEqual(
      [...reads, ...creations].filter((status) => ![200, 201, 429].includes(status)),
      []
    )
  }).timeout(60_000)
})
