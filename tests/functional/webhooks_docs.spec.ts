import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { givenTenant } from '#tests/support/fixtures'
import { eventually, resetQueues } from '#tests/support/orders'
import { startReceiver } from '#tests/support/webhooks'
import { startWorkers, type WorkerHandle } from '#queue/worker'
import { registry } from '#jobs/main'

/**
 * The verification snippet of docs/webhooks.md, exactly as written there,
 * run against a real delivery: it accepts the real request and refuses a
 * tampered body, a wrong secret, a stale timestamp and a missing header.
 */
async function loadSnippet(): Promise<{
  verifyWebhook: (secret: string, headers: object, body: string | Buffer) => boolean
}> {
  const markdown = await readFile(app.makePath('docs/webhooks.md'), 'utf8')
  const match = markdown.match(/<!-- verify-snippet -->\n```js\n([\s\S]*?)```/)
  if (!match) throw new Error('docs/webhooks.md has no verify-snippet block')
  const directory = await mkdtemp(join(tmpdir(), 'webhook-snippet-'))
  const file = join(directory, 'verify.mjs')
  await writeFile(file, match[1])
  try {
    return await import(pathToFileURL(file).href)
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

test.group('Webhooks / the documented verification', (group) => {
  let workers: WorkerHandle | undefined
  group.setup(async () => {
    await resetQueues()
    workers = startWorkers({ registry, concurrency: 2 })
  })
  group.teardown(async () => {
    await workers?.close()
  })

  test('docs/webhooks.md snippet verifies a real delivery, byte for byte', async ({
    client,
    assert,
  }) => {
    const { verifyWebhook } = await loadSnippet()
    const tenant = await givenTenant()
    const receiver = await startReceiver()
    try {
      const created = await client
        .post('/api/webhooks/')
        .bearerToken(tenant.owner.token)
        .json({ url: receiver.url, events: ['*'] })
      created.assertStatus(201)
      const { id, secret } = created.body()
      await client.post(`/api/webhooks/${id}/ping/`).bearerToken(tenant.owner.token)
      await eventually(async () => receiver.requests.length === 1)
      const [request] = receiver.requests

      assert.isTrue(verifyWebhook(secret, request.headers, request.body))
      assert.isTrue(verifyWebhook(secret, request.headers, Buffer.from(request.body)))
      assert.isFalse(verifyWebhook(secret, request.headers, `${request.body} `))
      assert.isFalse(
        verifyWebhook(secret, request.headers, JSON.stringify(JSON.parse(request.body), null, 1))
      )
      assert.isFalse(
        verifyWebhook(
          `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
          request.headers,
          request.body
        )
      )
      assert.isFalse(
        verifyWebhook(
          secret,
          {
            ...request.headers,
            'webhook-timestamp': String(Number(request.headers['webhook-timestamp']) - 3600),
          },
          request.body
        )
      )
      assert.isFalse(
        verifyWebhook(secret, { ...request.headers, 'webhook-id': 'msg_other' }, request.body)
      )
      const unsigned: Record<string, unknown> = { ...request.headers }
      delete unsigned['webhook-signature']
      assert.isFalse(verifyWebhook(secret, unsigned, request.body))
    } finally {
      await receiver.close()
    }
  })
})
