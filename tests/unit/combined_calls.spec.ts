import { test } from '@japa/runner'
import { CombinedCalls } from '#helpers/combined_calls'

/**
 * app/helpers/combined_calls.ts: calls of one key made while one runs go
 * together in the next run; a lone call waits for nothing.
 */

/** A run that waits until the test lets it finish, noting each batch. */
function gatedRuns() {
  const batches: { key: string; items: number[] }[] = []
  const gates: (() => void)[] = []
  const run = async (key: string, items: number[]) => {
    batches.push({ key, items })
    await new Promise<void>((resolve) => gates.push(resolve))
    return items.map((item) => `${key}:${item * 10}`)
  }
  const finishNext = () => gates.shift()?.()
  return { batches, run, finishNext }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test.group('CombinedCalls', () => {
  test('a lone call runs at once, alone', async ({ assert }) => {
    const { batches, run, finishNext } = gatedRuns()
    const calls = new CombinedCalls(run)
    const answer = calls.call('t1', 1)
    await tick()
    assert.deepEqual(batches, [{ key: 't1', items: [1] }])
    finishNext()
    assert.equal(await answer, 't1:10')
  })

  test('calls made while one runs go together in the next run, in order, at most maxBatch', async ({
    assert,
  }) => {
    const { batches, run, finishNext } = gatedRuns()
    const calls = new CombinedCalls(run, 3)
    const answers = [1, 2, 3, 4, 5, 6].map((item) => calls.call('t1', item))
    await tick()
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1]]
    )
    finishNext()
    await tick()
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1], [2, 3, 4]]
    )
    finishNext()
    await tick()
    finishNext()
    assert.deepEqual(await Promise.all(answers), [
      't1:10',
      't1:20',
      't1:30',
      't1:40',
      't1:50',
      't1:60',
    ])
    assert.deepEqual(
      batches.map((batch) => batch.items),
      [[1], [2, 3, 4], [5, 6]]
    )
  })

  test('keys never wait for each other', async ({ assert }) => {
    const { batches, run } = gatedRuns()
    const calls = new CombinedCalls(run)
    void calls.call('t1', 1)
    void calls.call('t1', 2)
    const other = calls.call('t2', 7)
    await tick()
    assert.deepEqual(batches, [
      { key: 't1', items: [1] },
      { key: 't2', items: [7] },
    ])
    void other
  })

  test('a failing run fails its own calls only; the next batch of the key still runs', async ({
    assert,
  }) => {
    let runs = 0
    const calls = new CombinedCalls(async (_key: string, items: number[]) => {
      runs++
      await tick()
      if (items.includes(2)) throw new Error('boom')
      return items
    })
    const first = calls.call('t1', 1)
    const failing = [calls.call('t1', 2), calls.call('t1', 3)]
    const [one, ...failed] = await Promise.allSettled([first, ...failing])
    assert.deepEqual(one, { status: 'fulfilled', value: 1 })
    for (const result of failed) {
      assert.equal(result.status, 'rejected')
      assert.match(String((result as PromiseRejectedResult).reason), /boom/)
    }
    assert.equal(await calls.call('t1', 4), 4)
    assert.equal(runs, 3)
  })

  test('a run that answers the wrong number of results fails its calls', async ({ assert }) => {
    const calls = new CombinedCalls(async (_key: string, _items: number[]) => [1, 2])
    await assert.rejects(() => calls.call('t1', 1), /a batch of 1 got 2 results/)
    assert.throws(() => new CombinedCalls(async () => [], 0), /maxBatch/)
  })

  test('calls made while `prepare` waits join the batch it is for, which gets what it prepared', async ({
    assert,
  }) => {
    const grants: ((lease: string) => void)[] = []
    const batches: { items: number[]; lease: string }[] = []
    const calls = new CombinedCalls(
      async (_key: string, items: number[], lease: string) => {
        batches.push({ items, lease })
        return items
      },
      32,
      () => new Promise<string>((resolve) => grants.push(resolve))
    )
    const answers = [1, 2, 3].map((item) => calls.call('t1', item))
    await tick()
    // still waiting for the lease: every call so far is in the batch
    assert.deepEqual(batches, [])
    grants.shift()!('lease-1')
    assert.deepEqual(await Promise.all(answers), [1, 2, 3])
    assert.deepEqual(batches, [{ items: [1, 2, 3], lease: 'lease-1' }])
  })

  test('a failing `prepare` fails the calls it was for; the next batch prepares again', async ({
    assert,
  }) => {
    let attempts = 0
    const calls = new CombinedCalls(
      async (_key: string, items: number[], lease: number) => items.map(() => lease),
      32,
      async () => {
        attempts++
        if (attempts === 1) throw new Error('pool timeout')
        return attempts
      }
    )
    await assert.rejects(() => calls.call('t1', 1), /pool timeout/)
    assert.equal(await calls.call('t1', 2), 2)
  })
})
