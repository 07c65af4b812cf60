import { test } from '@japa/runner'
import redis from '@adonisjs/redis/services/main'
import limiter from '@adonisjs/limiter/services/main'
import { Cluster } from 'ioredis'
import { clusterNodes, masters } from '#config/redis_options'
import { claimPriority, counterKey, releasePriority } from '#queue/fairness'
import { queue, queueOnCluster, queuePrefix, queueRedis } from '#queue/queues'

/**
 * What only a Redis Cluster can show (REDIS_CLUSTER_NODES set, as in
 * `npm run test:cluster`): the keys the app writes are spread over the
 * masters, yet every script touches one slot. The queue and reliability
 * suites run on the cluster too; this file checks the cluster is really
 * in use and the keys are laid out as designed.
 */
const onCluster = clusterNodes() !== null
const SKIP = 'REDIS_CLUSTER_NODES is not set (npm run test:cluster runs these on a cluster)'

test.group('Redis Cluster', () => {
  test('the queue, its counters and the app connection are cluster clients; queue keys share one slot', async ({
    assert,
  }) => {
    assert.isTrue(queueOnCluster())
    assert.instanceOf(queueRedis(), Cluster)
    assert.instanceOf(redis.connection().ioConnection, Cluster)
    assert.match(queuePrefix(), /^\{[^{}]+\}$/)

    const producer = queue('orders')
    await producer.add('confirm-order', { tenantId: 1, refId: 1 }, { jobId: 'cluster-probe:1:1' })
    const cluster = queueRedis() as Cluster
    const slots = new Set<number>()
    for (const node of masters(cluster)) {
      for (const key of await node.keys(`${queuePrefix()}:*`)) {
        slots.add(Number(await node.cluster('KEYSLOT', key)))
      }
    }
    assert.equal(slots.size, 1)
    const probeJob = await producer.getJob('cluster-probe:1:1')
    await probeJob?.remove()

    // The fairness scripts: one key each, on the queue's slot.
    assert.equal(await claimPriority('orders', 424242), 1)
    assert.equal(await claimPriority('orders', 424242), 2)
    await releasePriority('orders', 424242)
    await releasePriority('orders', 424242)
    assert.equal(await cluster.exists(counterKey('orders', 424242)), 0)
  }).skip(!onCluster, SKIP)

  test('rate limits work with their keys spread over several masters', async ({ assert }) => {
    const store = limiter.use({ requests: 1, duration: '1 min' })
    const keys = Array.from({ length: 24 }, (_, index) => `cluster_probe_${Date.now()}_${index}`)
    for (const key of keys) {
      await store.consume(key)
      await assert.rejects(() => store.consume(key))
    }

    const cluster = redis.connection().ioConnection as unknown as Cluster
    const holding = await Promise.all(
      masters(cluster).map(async (node) => {
        const found = await Promise.all(keys.map((key) => node.keys(`*${key}`)))
        return found.some((list) => list.length > 0)
      })
    )
    assert.isAtLeast(holding.filter(Boolean).length, 2)
    for (const key of keys) await store.delete(key)
  }).skip(!onCluster, SKIP)
})
