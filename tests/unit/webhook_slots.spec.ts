import { test } from '@japa/runner'
import {
  acquireSlot,
  releaseSlot,
  waitForSlot,
  type SlotLimits,
  type SlotWait,
} from '#webhooks/slots'

/**
 * Webhook concurrency slots (app/webhooks/slots.ts) against the real
 * Redis: the in-process wait for a slot of a busy endpoint, and its bounds.
 */
const LIMITS = { perEndpoint: 2, perTenant: 8, holdMs: 15_000 }
const WAIT: SlotWait = { maxWaitMs: 5_000, maxWaiters: 4, maxWaitingTotal: 8 }

let next = 9_000_000
/** A tenant and endpoint no other test uses: their slots start free. */
function freshEndpoint() {
  next++
  return { tenantId: next, endpointId: next }
}

/** A fresh endpoint whose limits allow one slot at a time. */
function oneSlotEndpoint() {
  return { ...freshEndpoint(), limits: { ...LIMITS, perEndpoint: 1 } }
}

/** Whether a slot of the endpoint is free now (taken by a probe, then given back). */
async function slotFree(tenantId: number, endpointId: number, limits: SlotLimits) {
  const free = await acquireSlot(tenantId, endpointId, 'probe', limits)
  if (free) await releaseSlot(tenantId, endpointId, 'probe')
  return free
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The name of the first of `promises` to settle. */
function firstSettled(promises: Record<string, Promise<unknown>>): Promise<string> {
  return Promise.race(Object.entries(promises).map(([name, promise]) => promise.then(() => name)))
}

test.group('Webhook slots', () => {
  test('a delivery of a busy endpoint waits in the process and gets the slot released here', async ({
    assert,
  }) => {
    const { tenantId, endpointId } = freshEndpoint()
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'a', LIMITS))
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'b', LIMITS))
    assert.isFalse(await acquireSlot(tenantId, endpointId, 'c', LIMITS))

    const waiting = waitForSlot(tenantId, endpointId, 'c', LIMITS, WAIT)
    await releaseSlot(tenantId, endpointId, 'a')
    // The waiter got the freed slot instead of giving up.
    assert.isTrue(await waiting)
    // Both slots are taken again (b and c): a fourth finds none.
    assert.isFalse(await acquireSlot(tenantId, endpointId, 'd', LIMITS))
    await releaseSlot(tenantId, endpointId, 'b')
    await releaseSlot(tenantId, endpointId, 'c')
  })

  test('the waiters of one endpoint each get a slot as the slots turn over', async ({ assert }) => {
    const { tenantId, endpointId, limits } = oneSlotEndpoint()
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'holder', limits))
    const waiters: Record<string, Promise<boolean>> = {
      first: waitForSlot(tenantId, endpointId, 'first', limits, WAIT),
      second: waitForSlot(tenantId, endpointId, 'second', limits, WAIT),
    }
    await releaseSlot(tenantId, endpointId, 'holder')
    const winner = await firstSettled(waiters)
    assert.isTrue(await waiters[winner])
    const other = winner === 'first' ? 'second' : 'first'
    // One slot: the other still waits until the winner gives it back.
    assert.isFalse(await acquireSlot(tenantId, endpointId, 'intruder', limits))
    await releaseSlot(tenantId, endpointId, winner)
    assert.isTrue(await waiters[other])
    await releaseSlot(tenantId, endpointId, other)
  })

  test('a wait gives up when no slot frees in time', async ({ assert }) => {
    const { tenantId, endpointId, limits } = oneSlotEndpoint()
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'holder', limits))
    assert.isFalse(
      await waitForSlot(tenantId, endpointId, 'late', limits, { ...WAIT, maxWaitMs: 50 })
    )
    // Nothing was taken by the attempt that gave up.
    await releaseSlot(tenantId, endpointId, 'holder')
    assert.isTrue(await slotFree(tenantId, endpointId, limits))
  })

  test('beyond its waiters per endpoint, or in all, a delivery does not wait at all', async ({
    assert,
  }) => {
    const busy = freshEndpoint()
    const other = freshEndpoint()
    const limits = { ...LIMITS, perEndpoint: 1 }
    const bounds: SlotWait = { maxWaitMs: 5_000, maxWaiters: 1, maxWaitingTotal: 2 }
    assert.isTrue(await acquireSlot(busy.tenantId, busy.endpointId, 'holder', limits))
    assert.isTrue(await acquireSlot(other.tenantId, other.endpointId, 'holder', limits))

    const waiter = waitForSlot(busy.tenantId, busy.endpointId, 'w1', limits, bounds)
    // A second waiter of the same endpoint is refused while the first waits.
    const refused = waitForSlot(busy.tenantId, busy.endpointId, 'w2', limits, bounds)
    assert.equal(await firstSettled({ refused, waiter }), 'refused')
    assert.isFalse(await refused)

    // Another endpoint's waiter still fits in the process-wide bound (2)...
    const otherWaiter = waitForSlot(other.tenantId, other.endpointId, 'o1', limits, bounds)
    // ...a third, of a third endpoint, does not.
    const third = freshEndpoint()
    assert.isTrue(await acquireSlot(third.tenantId, third.endpointId, 'holder', limits))
    assert.isFalse(await waitForSlot(third.tenantId, third.endpointId, 't1', limits, bounds))

    await releaseSlot(busy.tenantId, busy.endpointId, 'holder')
    await releaseSlot(other.tenantId, other.endpointId, 'holder')
    assert.isTrue(await waiter)
    assert.isTrue(await otherWaiter)
    for (const [slot, owner] of [
      [busy, 'w1'],
      [other, 'o1'],
      [third, 'holder'],
    ] as const) {
      await releaseSlot(slot.tenantId, slot.endpointId, owner)
    }
  })
})

test.group('Webhook slots, handed over', () => {
  test('a release hands its slot to the waiter of this process: nobody takes it in between', async ({
    assert,
  }) => {
    const { tenantId, endpointId, limits } = oneSlotEndpoint()
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'holder', limits))
    const waiting = waitForSlot(tenantId, endpointId, 'waiter', limits, WAIT)
    // let the waiter's first try fail and its nap begin
    await sleep(5)

    // Another process asks for the slot right after the release, on the
    // same connection: Redis runs the release first, then this.
    const releasing = releaseSlot(tenantId, endpointId, 'holder')
    const intruder = acquireSlot(tenantId, endpointId, 'intruder', limits)
    await releasing
    assert.isTrue(await waiting)
    assert.isFalse(await intruder)
    // The waiter holds it: its release frees it for anyone.
    await releaseSlot(tenantId, endpointId, 'waiter')
    assert.isTrue(await slotFree(tenantId, endpointId, limits))
  })

  test('a release whose hold had expired hands over nothing beyond the limit', async ({
    assert,
  }) => {
    const { tenantId, endpointId, limits } = oneSlotEndpoint()
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'expired', { ...limits, holdMs: 1 }))
    await sleep(10)
    // The expired hold is dropped and its slot taken by another owner.
    assert.isTrue(await acquireSlot(tenantId, endpointId, 'current', limits))
    const waiting = waitForSlot(tenantId, endpointId, 'waiter', limits, WAIT)
    await sleep(5)

    // The expired owner's release finds no hold of its own: the slot
    // stays with `current`, the waiter keeps waiting.
    await releaseSlot(tenantId, endpointId, 'expired')
    assert.equal(await firstSettled({ stillWaiting: sleep(150), waiting }), 'stillWaiting')
    assert.isFalse(await acquireSlot(tenantId, endpointId, 'intruder', limits))

    await releaseSlot(tenantId, endpointId, 'current')
    assert.isTrue(await waiting)
    await releaseSlot(tenantId, endpointId, 'waiter')
  })
})
