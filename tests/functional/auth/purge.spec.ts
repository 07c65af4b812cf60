import { test } from '@japa/runner'
import ace from '@adonisjs/core/services/ace'
import db from '#tests/support/platform_db'
import { decodePayload, registerTenant } from '#tests/support/auth'
import { expectStatus } from '#tests/support/http'

test.group('Auth / auth:purge', () => {
  test('deletes expired and revoked sessions with their tokens, keeps open ones', async ({
    client,
    assert,
  }) => {
    const open = await registerTenant(client)
    const expired = await registerTenant(client)
    const revoked = await registerTenant(client)
    const sid = (signUp: { access: string }) => decodePayload(signUp.access).sid as string

    await db
      .from('public.auth_sessions')
      .where('id', sid(expired))
      .update({ expires_at: db.raw(`now() - interval '1 minute'`) })
    await expectStatus(client.post('/api/auth/logout/').json({ refresh: revoked.refresh }), 204)
    // An expired refresh token of the open session goes as well.
    const rotated = await client.post('/api/auth/refresh/').json({ refresh: open.refresh })
    rotated.assertStatus(200)
    await db
      .from('public.refresh_tokens')
      .where('session_id', sid(open))
      .whereNotNull('used_at')
      .update({ expires_at: db.raw(`now() - interval '1 minute'`) })

    await ace.boot()
    ace.ui.switchMode('raw')
    try {
      const command = await ace.exec('auth:purge', [])
      command.assertSucceeded()
      const logs = command.logger.getLogs()
      assert.match(logs.at(-1)!.message, /Purged \d+ sessions and \d+ refresh tokens/)
    } finally {
      ace.ui.switchMode('normal')
    }

    const sessions = await db
      .from('public.auth_sessions')
      .whereIn('id', [sid(open), sid(expired), sid(revoked)])
      .select('id')
    assert.deepEqual(
      sessions.map((row) => row.id),
      [sid(open)]
    )
    const tokens = await db
      .from('public.refresh_tokens')
      .whereIn('session_id', [sid(open), sid(expired), sid(revoked)])
    assert.lengthOf(tokens, 1)
    assert.isNull(tokens[0].used_at)

    await expectStatus(client.get('/api/auth/me/').bearerToken(revoked.access), 401)
    await expectStatus(client.get('/api/auth/me/').bearerToken(expired.access), 401)
    await expectStatus(
      client.post('/api/auth/refresh/').json({ refresh: rotated.body().refresh }),
      200
    )
  })
})
