import { test } from '@japa/runner'

test.group('Health', () => {
  test('live answers 200', async ({ client }) => {
    const response = await client.get('/health/live')
    response.assertStatus(200)
    response.assertBodyContains({ status: 'ok' })
  })

  test('ready answers 200 with a report per check', async ({ client, assert }) => {
    const response = await client.get('/health/ready/')
    response.assertStatus(200)
    assert.equal(response.body().checks.database.status, 'ok')
    assert.equal(response.body().checks.redis.status, 'ok')
  })
})
