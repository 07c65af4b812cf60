import { test } from '@japa/runner'
import { TenantBatcher } from '#webhooks/tenant_batcher'

/**
 * The batching of deliveries' reads and outcomes (app/webhooks/tenant_batcher.ts):
 * one tenant's work of one turn goes together, nothing waits for a batch
 * in flight, tenants never share a batch, a failed batch fails each of its
 * items.
 */
function recorder() {
  const batches: { tenantId: number; items: number[] }[] = []
  const gates: Array<() => void> = []
  const batcher = new TenantBatcher<number, string>(async (tenantId, items) => {
    batches.push({ tenantId, items })
    await new Promise<void>((resolve) => gates.push(resolve))
    if (items.includes(-1)) throw new Error('batch failed')
    return items.map((item) => `${tenantId}:${item}`)
  }, 3)
  return { batches, gates, batcher }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

test.group('Webhooks / tenant batcher', () => {
  test("one turn's items of a tenant go in one batch, each gets its own result", async ({
    assert,
  }) => {
    const { batches, gates, batcher } = recorder()
    const results = Promise.all([1, 2].map((item) => batcher.submit(7, item)))
    const other = batcher.submit(8, 1)
    await turn()
    assert.deepEqual(batches, [
      { tenantId: 7, items: [1, 2] },
      { tenantId: 8, items: [1] },
    ])
    gates.splice(0).forEach((open) => open())
    assert.deepEqual(await results, ['7:1', '7:2'])
    assert.equal(await other, '8:1')
  })

  test('what arrives while a batch runs goes at once in a batch of its own, at most max at once', async ({
    assert,
  }) => {
    const { batches, gates, batcher } = recorder()
    const first = batcher.submit(7, 1)
    await turn()
    const later = [2, 3, 4, 5].map((item) => batcher.submit(7, item))
    await turn()
    // The first batch still runs: the next ones did not wait for it.
    assert.deepEqual(batches, [
      { tenantId: 7, items: [1] },
      { tenantId: 7, items: [2, 3, 4] },
      { tenantId: 7, items: [5] },
    ])
    gates.splice(0).forEach((open) => open())
    assert.equal(await first, '7:1')
    assert.deepEqual(await Promise.all(later), ['7:2', '7:3', '7:4', '7:5'])
  })

  test('a failed batch fails each of its items, and the next batch still runs', async ({
    assert,
  }) => {
    const { gates, batcher } = recorder()
    const failing = [batcher.submit(7, 1), batcher.submit(7, -1)].map((promise) =>
      promise.then(
        () => 'resolved',
        (error: Error) => error.message
      )
    )
    await turn()
    const next = batcher.submit(7, 2)
    gates.shift()!()
    assert.deepEqual(await Promise.all(failing), ['batch failed', 'batch failed'])
    await turn()
    gates.shift()!()
    assert.equal(await next, '7:2')
  })
})
