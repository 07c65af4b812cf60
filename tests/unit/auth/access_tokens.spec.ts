import { randomUUID } from 'node:crypto'
import { test } from '@japa/runner'
import { SignJWT } from 'jose'
import jwtConfig from '#config/jwt'
import { signAccessToken, verifyAccessToken } from '#auth/jwt'

const key = new TextEncoder().encode(jwtConfig.secret)

/**
 * An access token as signAccessToken makes it, expiring `ttlSeconds` from
 * now.
 */
function tokenExpiringIn(ttlSeconds: number) {
  return new SignJWT({
    tenant_id: 7,
    role: 'owner',
    token_type: 'access',
    sid: randomUUID(),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('42')
    .setIssuer(jwtConfig.issuer)
    .setAudience(jwtConfig.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .setJti(randomUUID())
    .sign(key)
}

/**
 * Verified tokens are remembered by their text (app/auth/jwt.ts): a
 * repeat must still be refused once it expires, and nothing about a
 * remembered token may let a different text through.
 */
test.group('Access tokens: remembered verifications', () => {
  test('a token verified before is refused once it has expired', async ({ assert }) => {
    const token = await tokenExpiringIn(1)
    const first = await verifyAccessToken(token)
    assert.equal(first?.sub, '42')
    const again = await verifyAccessToken(token)
    assert.equal(again?.sub, '42')

    const expiredAt = (first!.exp + jwtConfig.clockToleranceSeconds + 1) * 1000
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiredAt - Date.now())))
    assert.isNull(await verifyAccessToken(token))
    assert.isNull(await verifyAccessToken(token))
  }).timeout(15_000)

  test('a remembered token does not let an altered copy through', async ({ assert }) => {
    const token = await signAccessToken({
      userId: 5,
      tenantId: 3,
      role: 'staff',
      sessionId: randomUUID(),
    })
    assert.isNotNull(await verifyAccessToken(token))

    const [header, payload, signature] = token.split('.')
    const flipped = signature[0] === 'A' ? `B${signature.slice(1)}` : `A${signature.slice(1)}`
    assert.isNull(await verifyAccessToken(`${header}.${payload}.${flipped}`))
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const forged = Buffer.from(JSON.stringify({ ...claims, role: 'owner' })).toString('base64url')
    assert.isNull(await verifyAccessToken(`${header}.${forged}.${signature}`))
  })

  test('remembered claims cannot be changed by a caller', async ({ assert }) => {
    const token = await signAccessToken({
      userId: 9,
      tenantId: 4,
      role: 'customer',
      sessionId: randomUUID(),
    })
    const claims = await verifyAccessToken(token)
    assert.throws(() => {
      ;(claims as { role: string }).role = 'owner'
    })
    const again = await verifyAccessToken(token)
    assert.equal(again?.role, 'customer')
  })
})
