import { test } from '@japa/runner'
import { registry } from '#jobs/main'
import { startSweeper, sweepPause } from '#queue/sweeper'
import { queuePrefix, queueRedis } from '#queue/queues'
import { eventually } from '#tests/support/orders'
import { givenTenant } from '#tests/support/fixtures'

/**
 * The sweeper reads every tenant's schema, so its cost grows with the
 * number of tenants; after each sweep the whole fleet waits long enough
 * that sweeping takes at most its duty share (app/queue/sweeper.ts).
 */
test.group('Sweeper: bounded share of the time', (group) => {
  const lockKey = () => `${queuePrefix()}:sweeper-lock`

  group.each.setup(async () => {
    await queueRedis().del(lockKey())
    return async () => {
      await queueRedis().del(lockKey())
    }
  })

  test('the pause is the interval, or long enough for the duty share', ({ assert }) => {
    const every10s = { intervalMs: 10_000, maxDutyPercent: 10 }
    assert.equal(sweepPause(40, every10s), 10_000)
    assert.equal(sweepPause(5_000, every10s), 45_000)
    assert.equal(sweepPause(5_000, { intervalMs: 10_000, maxDutyPercent: 50 }), 10_000)
    assert.equal(sweepPause(20_000, { intervalMs: 10_000, maxDutyPercent: 50 }), 20_000)
    // out-of-range shares are clamped to 1..100 %
    assert.equal(sweepPause(5_000, { intervalMs: 100, maxDutyPercent: 0 }), 495_000)
    assert.equal(sweepPause(5_000, { intervalMs: 100, maxDutyPercent: 400 }), 100)
  })

  test('after a sweep the lock keeps every process of the fleet from sweeping for the pause', async ({
    assert,
    cleanup,
  }) => {
    // A sweep reads at least the tenant list and one tenant's schema: far
    // more than the 0.5 ms that makes a 1 % share exceed a 50 ms interval.
    await givenTenant()
    const sweeper = startSweeper(registry, { intervalMs: 50, ageMs: 60_000, maxDutyPercent: 1 })
    cleanup(() => sweeper.stop())
    const ttl = await eventually(
      async () => {
        const left = await queueRedis().pttl(lockKey())
        return left > 50 ? left : 0
      },
      { timeoutMs: 10_000, intervalMs: 5, message: 'the lock held past the interval' }
    )
    assert.isAbove(ttl, 50)
    // A second sweeper (another worker process) finds the lock taken.
    const owner = await queueRedis().get(lockKey())
    const other = startSweeper(registry, { intervalMs: 10, ageMs: 60_000, maxDutyPercent: 1 })
    cleanup(() => other.stop())
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(await queueRedis().get(lockKey()), owner)
  })

  test('without a duty bound the lock lasts no longer than the interval', async ({
    assert,
    cleanup,
  }) => {
    await givenTenant()
    const sweeper = startSweeper(registry, { intervalMs: 200, ageMs: 60_000, maxDutyPercent: 100 })
    cleanup(() => sweeper.stop())
    await eventually(async () => (await queueRedis().exists(lockKey())) === 1, {
      timeoutMs: 10_000,
      intervalMs: 5,
      message: 'a sweep',
    })
    for (let probe = 0; probe < 10; probe++) {
      assert.isAtMost(await queueRedis().pttl(lockKey()), 200)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
})
