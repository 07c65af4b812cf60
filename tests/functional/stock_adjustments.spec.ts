import type { ProductRow } from '#models/product'
import { test } from '@japa/runner'
import { expectStatus } from '#tests/support/http'
import { givenTenant, givenUser, type GivenTenant, type GivenUser } from '#tests/support/fixtures'
import { givenProduct, givenProductWithId } from '#tests/support/catalog'
import { ledgerSum, movementsOf, resetQueues, stockOf } from '#tests/support/orders'
import { applyAdjustment } from '#jobs/apply_adjustment'

test.group('Stock adjustments', (group) => {
  let tenant: GivenTenant
  let other: GivenTenant
  let staff: GivenUser
  let otherStaff: GivenUser
  let customer: GivenUser
  let product: ProductRow
  group.setup(async () => {
    await resetQueues()
    tenant = await givenTenant()
    other = await givenTenant()
    staff = await givenUser(tenant, 'staff')
    otherStaff = await givenUser(tenant, 'staff')
    customer = await givenUser(tenant, 'customer')
    product = await givenProduct(tenant, { stock: 10, assigned_to: staff.id })
  })

  const url = (productId: number) => `/api/products/${productId}/stock-adjustments/`

  test('the owner requests one: 202 pending; the worker applies it exactly once', async ({
    client,
    assert,
  }) => {
    const response = await client
      .post(url(product.id))
      .bearerToken(tenant.owner.token)
      .json({ delta: 5, reason: 'delivery from supplier' })
    response.assertStatus(202)
    assert.equal(response.body().status, 'pending')
    assert.isNumber(response.body().id)
    assert.equal(await stockOf(tenant.id, product.id), 10)

    const job = { tenantId: tenant.id, refId: response.body().id }
    assert.equal(await applyAdjustment(job), 'applied')
    assert.equal(await applyAdjustment(job), 'skipped')
    assert.equal(await stockOf(tenant.id, product.id), 15)
    assert.equal(await ledgerSum(tenant.id, product.id), 15)
    const movements = await movementsOf(tenant.id)
    const adjustments = movements.filter((m) => m.kind === 'adjustment')
    assert.deepEqual(
      adjustments.map((m) => [m.delta, m.adjustment_id]),
      [[5, response.body().id]]
    )

    const polled = await client
      .get(`${url(product.id)}${response.body().id}/`)
      .bearerToken(tenant.owner.token)
    polled.assertStatus(200)
    assert.equal(polled.body().status, 'applied')
    assert.isString(polled.body().processed_at)
  })

  test('below zero: rejected with a reason, stock unchanged', async ({ client, assert }) => {
    const before = await stockOf(tenant.id, product.id)
    const response = await client
      .post(url(product.id))
      .bearerToken(staff.token)
      .json({ delta: String(-(before + 1)), reason: 'breakage' })
    response.assertStatus(202)
    assert.equal(
      await applyAdjustment({ tenantId: tenant.id, refId: response.body().id }),
      'rejected'
    )
    const polled = await client
      .get(`${url(product.id)}${response.body().id}`)
      .bearerToken(staff.token)
    assert.equal(polled.body().status, 'rejected')
    assert.match(polled.body().rejection_reason, /below 0/)
    assert.equal(await stockOf(tenant.id, product.id), before)

    const list = await client.get(url(product.id)).bearerToken(staff.token)
    list.assertStatus(200)
    assert.equal(list.body().data[0].id, response.body().id)
  })

  test('who may: owner and the assigned staff; others 403, unseen products 404', async ({
    client,
  }) => {
    const body = { delta: 1, reason: 'count' }
    await expectStatus(client.post(url(product.id)).bearerToken(staff.token).json(body), 202)
    await expectStatus(client.post(url(product.id)).bearerToken(otherStaff.token).json(body), 403)
    await expectStatus(client.post(url(product.id)).bearerToken(customer.token).json(body), 403)
    await expectStatus(client.post(url(product.id)).json(body), 401)
    await expectStatus(client.post(url(999999)).bearerToken(tenant.owner.token).json(body), 404)
    const theirs = await givenProductWithId(other, 888_001)
    await expectStatus(client.post(url(theirs.id)).bearerToken(tenant.owner.token).json(body), 404)
    const hidden = await givenProduct(tenant, { is_active: false })
    await expectStatus(client.post(url(hidden.id)).bearerToken(customer.token).json(body), 404)
    await expectStatus(client.get(`${url(product.id)}999999/`).bearerToken(tenant.owner.token), 404)
  })

  test('invalid bodies are 422', async ({ client, assert }) => {
    const cases: [object, string][] = [
      [{ delta: 0, reason: 'x' }, 'delta'],
      [{ delta: 1.5, reason: 'x' }, 'delta'],
      [{ delta: 'many', reason: 'x' }, 'delta'],
      [{ delta: true, reason: 'x' }, 'delta'],
      [{ delta: 3_000_000_000, reason: 'x' }, 'delta'],
      [{ reason: 'x' }, 'delta'],
      [{ delta: 1 }, 'reason'],
      [{ delta: 1, reason: '   ' }, 'reason'],
      [{ delta: 1, reason: 'r'.repeat(201) }, 'reason'],
    ]
    for (const [body, field] of cases) {
      const response = await client.post(url(product.id)).bearerToken(tenant.owner.token).json(body)
      assert.equal(response.status(), 422, JSON.stringify(body))
      assert.equal(response.body().errors[0].field, field, JSON.stringify(body))
    }
  })
})
