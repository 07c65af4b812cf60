import { test } from '@japa/runner'
import { inject } from '@adonisjs/core'
import testUtils from '@adonisjs/core/services/test_utils'
import { BaseTransformer } from '@adonisjs/core/transformers'
import { directTransform } from '#transformers/direct_transform'

interface Row {
  id: number
  name: string
}

class PlainTransformer extends BaseTransformer<Row> {
  static transform = directTransform

  toObject() {
    return { id: this.resource.id, label: this.resource.name.toUpperCase() }
  }
}

class Greeter {
  greet(name: string) {
    return `hello ${name}`
  }
}

class InjectingTransformer extends BaseTransformer<Row> {
  @inject()
  toObject(greeter: Greeter) {
    return { id: this.resource.id, greeting: greeter.greet(this.resource.name) }
  }
}

class NestingTransformer extends BaseTransformer<Row> {
  toObject() {
    return { id: this.resource.id, self: PlainTransformer.transform(this.resource) }
  }
}

/**
 * ctx.serialize (providers/api_provider.ts) calls plain transformers
 * directly and leaves everything else to the framework: both must give
 * what the framework gives.
 */
test.group('ctx.serialize', () => {
  const rows: Row[] = [
    { id: 1, name: 'ab' },
    { id: 2, name: 'cd' },
  ]

  test('plain transformers: items, collections and {data, meta}', async ({ assert }) => {
    const ctx = await testUtils.createHttpContext()
    assert.deepEqual(await ctx.serialize(PlainTransformer.transform(rows[0])), {
      id: 1,
      label: 'AB',
    })
    assert.deepEqual(await ctx.serialize(PlainTransformer.transform(rows)), [
      { id: 1, label: 'AB' },
      { id: 2, label: 'CD' },
    ])
    assert.deepEqual(
      await ctx.serialize({ data: PlainTransformer.transform(rows), meta: { total: 2 } }),
      {
        data: [
          { id: 1, label: 'AB' },
          { id: 2, label: 'CD' },
        ],
        meta: { total: 2 },
      }
    )
    assert.deepEqual(await ctx.serialize({ data: PlainTransformer.transform([]) }), { data: [] })
  })

  test('a method with injections still gets them from the container', async ({ assert }) => {
    const ctx = await testUtils.createHttpContext()
    assert.deepEqual(await ctx.serialize(InjectingTransformer.transform(rows)), [
      { id: 1, greeting: 'hello ab' },
      { id: 2, greeting: 'hello cd' },
    ])
  })

  test('nested transformed values are resolved', async ({ assert }) => {
    const ctx = await testUtils.createHttpContext()
    assert.deepEqual(await ctx.serialize(NestingTransformer.transform(rows[1])), {
      id: 2,
      self: { id: 2, label: 'CD' },
    })
  })

  test('undefined and null keep the framework behaviour', async ({ assert }) => {
    const ctx = await testUtils.createHttpContext()
    assert.isNull(PlainTransformer.transform(null as unknown as Row))
    await assert.rejects(async () => ctx.serialize(null as never))
    await assert.rejects(async () =>
      ctx.serialize(PlainTransformer.transform(undefined as unknown as Row))
    )
  })
})
