import { test } from '@japa/runner'
import db from '#tests/support/platform_db'
import { givenTenant, givenUser } from '#tests/support/fixtures'
import {
  decodePayload,
  login,
  registerTenant,
  setTenantStatus,
  signWith,
} from '#tests/support/auth'
import { expectStatus } from '#tests/support/http'
import type { ApiClient } from '@japa/api-client'
import { hashRefreshToken } from '#auth/refresh_tokens'

function refresh(client: ApiClient, token: string) {
  return client.post('/api/auth/refresh/').json({ refresh: token })
}

function me(client: ApiClient, access: string) {
  return client.get('/api/auth/me/').bearerToken(access)
}

function b64(value: unknown) {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

test.group('Tokens / refresh', () => {
  test('answers a new pair; the used refresh token stops working', async ({ client, assert }) => {
    const signUp = await registerTenant(client)
    const first = await refresh(client, signUp.refresh)
    first.assertStatus(200)
    assert.deepEqual(Object.keys(first.body()).sort(), ['access', 'refresh'])
    assert.notEqual(first.body().refresh, signUp.refresh)
    assert.notEqual(first.body().access, signUp.access)
    assert.equal(decodePayload(first.body().access).sid, decodePayload(signUp.access).sid)
    await expectStatus(me(client, first.body().access), 200)

    const second = await refresh(client, first.body().refresh)
    second.assertStatus(200)

    const again = await refresh(client, signUp.refresh)
    again.assertStatus(401)
    assert.equal(again.body().errors[0].code, 'E_INVALID_REFRESH_TOKEN')
  })

  test('reuse of a used refresh token revokes the whole login, access tokens included', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    const other = await login(client, signUp.user.username, signUp.password)
    other.assertStatus(200)

    const rotated = await refresh(client, signUp.refresh)
    rotated.assertStatus(200)
    const { access, refresh: successor } = rotated.body()

    const replay = await refresh(client, signUp.refresh)
    replay.assertStatus(401)

    await expectStatus(refresh(client, successor), 401)
    await expectStatus(me(client, access), 401)
    await expectStatus(me(client, signUp.access), 401)

    const session = await db
      .from('public.auth_sessions')
      .where('id', decodePayload(access).sid)
      .firstOrFail()
    assert.equal(session.revoked_reason, 'reuse')

    // Another login of the same user is a different family.
    await expectStatus(me(client, other.body().access), 200)
    await expectStatus(refresh(client, other.body().refresh), 200)
  })

  test('two concurrent refreshes with one token: one pair, and the login is revoked', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    const responses = await Promise.all([
      refresh(client, signUp.refresh),
      refresh(client, signUp.refresh),
    ])
    assert.deepEqual(responses.map((response) => response.status()).sort(), [200, 401])
    const winner = responses.find((response) => response.status() === 200)!
    await expectStatus(refresh(client, winner.body().refresh), 401)
  })

  test('the new access token carries the role from the database', async ({ client, assert }) => {
    const tenant = await givenTenant()
    const staff = await givenUser(tenant, 'staff')
    const session = await login(client, staff.username, 'password123')
    session.assertStatus(200)
    await db.from('public.users').where('id', staff.id).update({ role: 'customer' })
    const rotated = await refresh(client, session.body().refresh)
    rotated.assertStatus(200)
    assert.equal(decodePayload(rotated.body().access).role, 'customer')
  })

  test('an unknown, an expired or a malformed refresh token: 401', async ({ client }) => {
    await expectStatus(refresh(client, 'not-a-token-we-ever-issued'), 401)

    const signUp = await registerTenant(client)
    await db
      .from('public.refresh_tokens')
      .whereIn(
        'session_id',
        db.from('public.auth_sessions').where('user_id', signUp.user.id).select('id')
      )
      .update({ expires_at: db.raw(`now() - interval '1 second'`) })
    await expectStatus(refresh(client, signUp.refresh), 401)
  })

  test('an access token is not a refresh token', async ({ client }) => {
    const signUp = await registerTenant(client)
    await expectStatus(refresh(client, signUp.access), 401)
  })

  test('an expired login session refuses its refresh token', async ({ client }) => {
    const signUp = await registerTenant(client)
    await db
      .from('public.auth_sessions')
      .where('id', decodePayload(signUp.access).sid)
      .update({ expires_at: db.raw(`now() - interval '1 second'`) })
    await expectStatus(refresh(client, signUp.refresh), 401)
  })

  test('422 without a refresh token', async ({ client, assert }) => {
    const response = await client.post('/api/auth/refresh/').json({})
    response.assertStatus(422)
    assert.equal(response.body().errors[0].field, 'refresh')
  })
})

test.group('Tokens / absolute session lifetime', () => {
  async function sessionOf(refreshToken: string) {
    const { rows } = await db.rawQuery(
      `select s.id, s.created_at, s.expires_at from public.auth_sessions s
       join public.refresh_tokens r on r.session_id = s.id where r.token_hash = ?`,
      [hashRefreshToken(refreshToken)]
    )
    return rows[0] as { id: string; created_at: Date; expires_at: Date }
  }

  test('past JWT_SESSION_MAX_AGE (30 days) after login, refresh answers 401', async ({
    client,
  }) => {
    const signUp = await registerTenant(client)
    const session = await sessionOf(signUp.refresh)
    await db.rawQuery(
      `update public.auth_sessions set created_at = now() - interval '30 days 1 minute'
       where id = ?`,
      [session.id]
    )
    const response = await refresh(client, signUp.refresh)
    response.assertStatus(401)
    response.assertBodyContains({ errors: [{ code: 'E_INVALID_REFRESH_TOKEN' }] })
  })

  test('before it, refresh works but never extends the session past it', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    const session = await sessionOf(signUp.refresh)
    await db.rawQuery(
      `update public.auth_sessions set created_at = now() - interval '29 days' where id = ?`,
      [session.id]
    )
    const rotated = await refresh(client, signUp.refresh)
    rotated.assertStatus(200)
    const after = await sessionOf(rotated.body().refresh)
    const maxAgeMs = 30 * 24 * 3600 * 1000
    assert.isAtMost(after.expires_at.getTime(), after.created_at.getTime() + maxAgeMs)
    const { rows } = await db.rawQuery(
      'select expires_at from public.refresh_tokens where token_hash = ?',
      [hashRefreshToken(rotated.body().refresh)]
    )
    assert.isAtMost(rows[0].expires_at.getTime(), after.created_at.getTime() + maxAgeMs)
  })
})

test.group('Tokens / logout', () => {
  test('204; that refresh, its successors and the access tokens stop working', async ({
    client,
  }) => {
    const signUp = await registerTenant(client)
    const rotated = await refresh(client, signUp.refresh)
    rotated.assertStatus(200)

    const response = await client.post('/api/auth/logout/').json({ refresh: signUp.refresh })
    response.assertStatus(204)

    await expectStatus(refresh(client, rotated.body().refresh), 401)
    await expectStatus(me(client, rotated.body().access), 401)
    await expectStatus(me(client, signUp.access), 401)
  })

  test('logout with the current refresh token, then refresh: 401', async ({ client }) => {
    const signUp = await registerTenant(client)
    await expectStatus(client.post('/api/auth/logout').json({ refresh: signUp.refresh }), 204)
    await expectStatus(refresh(client, signUp.refresh), 401)
    await expectStatus(me(client, signUp.access), 401)
  })

  test('an unknown token changes nothing and answers 204 alike; no token is 422', async ({
    client,
  }) => {
    const signUp = await registerTenant(client)
    const unknown = await client.post('/api/auth/logout/').json({ refresh: 'unknown-token' })
    unknown.assertStatus(204)
    await expectStatus(me(client, signUp.access), 200)
    await expectStatus(client.post('/api/auth/logout/').json({}), 422)
  })
})

test.group('Tokens / access token refusals', () => {
  test('no token, or not a bearer token: 401', async ({ client, assert }) => {
    const none = await client.get('/api/auth/me/')
    none.assertStatus(401)
    assert.equal(none.body().errors[0].code, 'E_UNAUTHORIZED_ACCESS')
    await expectStatus(client.get('/api/auth/me/').header('authorization', 'Basic abc'), 401)
  })

  test('signed with another key: 401', async ({ client }) => {
    const tenant = await givenTenant()
    const forged = await signWith(
      {
        sub: String(tenant.owner.id),
        tenant_id: tenant.id,
        role: 'owner',
        token_type: 'access',
        sid: tenant.owner.sessionId,
      },
      { key: 'another-secret-that-is-long-enough-0123456789' }
    )
    await expectStatus(me(client, forged), 401)
  })

  test('alg none: 401', async ({ client }) => {
    const tenant = await givenTenant()
    const payload = decodePayload(tenant.owner.token)
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`
    await expectStatus(me(client, unsigned), 401)
  })

  test('a tampered claim: 401', async ({ client }) => {
    const tenant = await givenTenant()
    const other = await givenTenant()
    const [header, , signature] = tenant.owner.token.split('.')
    for (const change of [
      { tenant_id: other.id },
      { role: 'owner', sub: String(other.owner.id) },
    ]) {
      const payload = { ...decodePayload(tenant.owner.token), ...change }
      await expectStatus(me(client, `${header}.${b64(payload)}.${signature}`), 401)
    }
    const staff = await givenUser(tenant, 'staff')
    const [staffHeader, , staffSignature] = staff.token.split('.')
    const promoted = { ...decodePayload(staff.token), role: 'owner' }
    const response = await client
      .get('/api/users/')
      .bearerToken(`${staffHeader}.${b64(promoted)}.${staffSignature}`)
    response.assertStatus(401)
  })

  test('expired: 401', async ({ client }) => {
    const tenant = await givenTenant()
    const expired = await signWith(
      {
        sub: String(tenant.owner.id),
        tenant_id: tenant.id,
        role: 'owner',
        token_type: 'access',
        sid: tenant.owner.sessionId,
      },
      { expiresIn: Math.floor(Date.now() / 1000) - 60 }
    )
    await expectStatus(me(client, expired), 401)
  })

  test('token_type refresh, or a refresh token, used as access: 401', async ({ client }) => {
    const tenant = await givenTenant()
    const claims = {
      sub: String(tenant.owner.id),
      tenant_id: tenant.id,
      role: 'owner',
      sid: tenant.owner.sessionId,
    }
    const control = await signWith({ ...claims, token_type: 'access' })
    await expectStatus(me(client, control), 200)
    await expectStatus(me(client, await signWith({ ...claims, token_type: 'refresh' })), 401)

    const signUp = await registerTenant(client)
    await expectStatus(me(client, signUp.refresh), 401)
  })

  test('a deactivated user: access and refresh are refused (401)', async ({ client }) => {
    const signUp = await registerTenant(client)
    const tenant = { id: signUp.tenant.id }
    const staff = await givenUser(tenant, 'staff')
    const session = await login(client, staff.username, 'password123')
    session.assertStatus(200)

    await db.from('public.users').where('id', staff.id).update({ is_active: false })
    await expectStatus(me(client, session.body().access), 401)
    await expectStatus(refresh(client, session.body().refresh), 401)
  })

  test('a deleted user: access and refresh are refused (401)', async ({ client }) => {
    const signUp = await registerTenant(client)
    const staff = await givenUser({ id: signUp.tenant.id }, 'staff')
    const session = await login(client, staff.username, 'password123')
    session.assertStatus(200)

    await db.from('public.users').where('id', staff.id).delete()
    await expectStatus(me(client, session.body().access), 401)
    await expectStatus(me(client, staff.token), 401)
    await expectStatus(refresh(client, session.body().refresh), 401)
  })

  test('a suspended tenant: 403 E_TENANT_SUSPENDED for access and refresh', async ({
    client,
    assert,
  }) => {
    const signUp = await registerTenant(client)
    await setTenantStatus(signUp.tenant.id, 'suspended')

    const access = await me(client, signUp.access)
    access.assertStatus(403)
    assert.equal(access.body().errors[0].code, 'E_TENANT_SUSPENDED')

    const refused = await refresh(client, signUp.refresh)
    refused.assertStatus(403)
    assert.equal(refused.body().errors[0].code, 'E_TENANT_SUSPENDED')

    // The refused refresh did not consume the token.
    await setTenantStatus(signUp.tenant.id, 'active')
    await expectStatus(refresh(client, signUp.refresh), 200)
  })
})
