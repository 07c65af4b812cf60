import { test } from '@japa/runner'
import { rateLimits } from '#auth/rate_limits'
import {
  login,
  PASSWORD,
  registerTenant,
  signUpBody,
  uniqueIp,
  uniqueName,
} from '#tests/support/auth'
import { expectStatus } from '#tests/support/http'
import { givenTenant } from '#tests/support/fixtures'

/**
 * The limits are lowered for each test and restored afterwards; every
 * test uses its own usernames and client IPs, so counters never leak
 * between tests or runs.
 */
test.group('Auth / rate limits', (group) => {
  group.each.setup(() => {
    const saved = { ...rateLimits }
    rateLimits.login = 3
    rateLimits.register = 2
    return () => {
      Object.assign(rateLimits, saved)
    }
  })

  test('failed logins per username: 429 with Retry-After, even for the right password', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    for (let attempt = 0; attempt < 3; attempt++) {
      await expectStatus(login(client, signUp.user.username, 'wrong password'), 401)
    }
    const limited = await login(client, signUp.user.username, signUp.password)
    limited.assertStatus(429)
    assert.equal(limited.body().errors[0].code, 'E_TOO_MANY_REQUESTS')
    const retryAfter = Number(limited.header('retry-after'))
    assert.isAbove(retryAfter, 0)
    assert.isAtMost(retryAfter, 15 * 60)
  })

  test('a burst of parallel guesses gets no more attempts than the limit', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => login(client, signUp.user.username, 'wrong password'))
    )
    const statuses = responses.map((response) => response.status())
    assert.equal(statuses.filter((status) => status === 401).length, 3)
    assert.equal(statuses.filter((status) => status === 429).length, 9)
  })

  test('failed logins per IP, whatever the usernames', async ({ client }) => {
    const signUp = await registerTenant(client)
    const ip = uniqueIp()
    for (let attempt = 0; attempt < 3; attempt++) {
      await expectStatus(login(client, uniqueName('nobody'), 'whatever1', ip), 401)
    }
    await expectStatus(login(client, signUp.user.username, signUp.password, ip), 429)
    await expectStatus(login(client, signUp.user.username, signUp.password), 200)
  })

  test('a successful login clears the username counter', async ({ client }) => {
    const signUp = await registerTenant(client)
    for (let round = 0; round < 2; round++) {
      for (let attempt = 0; attempt < 2; attempt++) {
        await expectStatus(login(client, signUp.user.username, 'wrong password'), 401)
      }
      await expectStatus(login(client, signUp.user.username, signUp.password), 200)
    }
  })

  test('RATE_LIMIT_LOGIN=0 switches the login limit off', async ({ client }) => {
    rateLimits.login = 0
    const signUp = await registerTenant(client)
    const ip = uniqueIp()
    for (let attempt = 0; attempt < 5; attempt++) {
      await expectStatus(login(client, signUp.user.username, 'wrong password', ip), 401)
    }
    await expectStatus(login(client, signUp.user.username, signUp.password, ip), 200)
  })

  test('sign-ups per IP, both register endpoints: 429 with Retry-After', async ({
    client,
    assert,
  }) => {
    const tenant = await givenTenant()
    const ip = uniqueIp()
    await expectStatus(
      client.post('/api/auth/register/').header('x-forwarded-for', ip).json(signUpBody()),
      201
    )
    const username = uniqueName('customer')
    const customer = { store: tenant.slug, username, email: `${username}@example.com` }
    await expectStatus(
      client
        .post('/api/auth/register/customer/')
        .header('x-forwarded-for', ip)
        .json({ ...customer, password: PASSWORD }),
      201
    )

    for (const url of ['/api/auth/register/', '/api/auth/register/customer/']) {
      const limited = await client
        .post(url)
        .header('x-forwarded-for', ip)
        .json({ ...signUpBody(), store: tenant.slug })
      limited.assertStatus(429)
      assert.equal(limited.body().errors[0].code, 'E_TOO_MANY_REQUESTS')
      const retryAfter = Number(limited.header('retry-after'))
      assert.isAbove(retryAfter, 0)
      assert.isAtMost(retryAfter, 60 * 60)
    }

    const elsewhere = await client
      .post('/api/auth/register/')
      .header('x-forwarded-for', uniqueIp())
      .json(signUpBody())
    elsewhere.assertStatus(201)
  })

  test('RATE_LIMIT_REGISTER=0 switches the sign-up limit off', async ({ client }) => {
    rateLimits.register = 0
    const ip = uniqueIp()
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await client
        .post('/api/auth/register/')
        .header('x-forwarded-for', ip)
        .json(signUpBody())
      response.assertStatus(201)
    }
  })
})
