import { test } from '@japa/runner'
import { retryDelay, slotRetryDelay } from '#jobs/deliver_webhook'
import webhooksConfig from '#config/webhooks'

/**
 * The two waits of a delivery (app/jobs/deliver_webhook.ts): after a slot
 * miss (short, doubling, capped) and after a failed attempt (the backoff).
 */
function range(delay: (n: number) => number, n: number, runs = 200) {
  const values = Array.from({ length: runs }, () => delay(n))
  return [Math.min(...values), Math.max(...values)]
}

test.group('Webhook delivery delays', () => {
  test('a slot miss waits 25–50 ms first, doubling with jitter up to 250–500 ms', ({ assert }) => {
    const expected: Array<[number, number, number]> = [
      [0, 25, 50],
      [1, 50, 100],
      [2, 100, 200],
      [3, 200, 400],
      [4, 250, 500],
      [40, 250, 500],
    ]
    for (const [misses, low, high] of expected) {
      const [min, max] = range(slotRetryDelay, misses)
      assert.isAtLeast(min, low, `misses=${misses}`)
      assert.isAtMost(max, high, `misses=${misses}`)
      assert.isAbove(max, min, `jittered at misses=${misses}`)
    }
    // a negative count (clock of attempts off) is the first miss
    assert.isAtMost(range(slotRetryDelay, -3)[1], 50)
  })

  test('a failed attempt backs off exponentially with jitter, capped', ({ assert }) => {
    const { backoffBaseMs, maxDelayMs } = webhooksConfig
    const [min1, max1] = range(retryDelay, 1)
    assert.isAtLeast(min1, backoffBaseMs / 2)
    assert.isAtMost(max1, backoffBaseMs)
    const [min3, max3] = range(retryDelay, 3)
    assert.isAtLeast(min3, Math.min(maxDelayMs, backoffBaseMs * 4) / 2)
    assert.isAtMost(max3, Math.min(maxDelayMs, backoffBaseMs * 4))
    assert.isAtMost(range(retryDelay, 80)[1], maxDelayMs)
  })
})
