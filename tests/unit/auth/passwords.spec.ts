import { test } from '@japa/runner'
import hash from '@adonisjs/core/services/hash'
import { HashingInTransactionError, hashPassword } from '#auth/passwords'
import { withTenant } from '#tenancy/context'
import { givenTenant } from '#tests/support/fixtures'

/**
 * scrypt never runs while a pooled connection is held: hashing inside a
 * tenant transaction is refused (a bug), so every code path that hashes
 * (sign-up, tenants:create, user management) must hash before entering.
 */
test.group('Password hashing', () => {
  test('hashes outside a tenant transaction', async ({ assert }) => {
    const made = await hashPassword('correct horse battery')
    assert.isTrue(await hash.verify(made, 'correct horse battery'))
  })

  test('refuses to hash inside a tenant transaction', async ({ assert }) => {
    const tenant = await givenTenant()
    await assert.rejects(
      () => withTenant(tenant.id, () => hashPassword('correct horse battery')),
      HashingInTransactionError
    )
  })
})
